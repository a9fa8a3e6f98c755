"""serving: event status, job kind, topic search text, the cache table

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job_events") as batch:
        batch.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="running")
        )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="analyze")
        )
    with op.batch_alter_table("calls") as batch:
        batch.add_column(
            sa.Column("topics_text", sa.Text(), nullable=False, server_default="")
        )
        batch.create_index("ix_calls_customer_sentiment", ["customer_sentiment"])
    op.create_table(
        "cache_entries",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_cache_entries")),
    )


def downgrade() -> None:
    op.drop_table("cache_entries")
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_customer_sentiment")
        batch.drop_column("topics_text")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("kind")
    with op.batch_alter_table("job_events") as batch:
        batch.drop_column("status")

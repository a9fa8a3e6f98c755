"""API keys (hashed), audit fields on calls (created/updated/deleted by, deleted at), and
who submitted each job

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("key_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_by", sa.String(200)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_sha256", name="uq_api_keys_key_sha256"),
    )
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("created_by", sa.String(200)))
        batch.add_column(sa.Column("updated_by", sa.String(200)))
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("deleted_by", sa.String(200)))
        batch.create_index("ix_calls_deleted_at", ["deleted_at"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("submitted_by", sa.String(200)))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("submitted_by")
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_deleted_at")
        for column in ("deleted_by", "deleted_at", "updated_by", "created_by"):
            batch.drop_column(column)
    op.drop_table("api_keys")

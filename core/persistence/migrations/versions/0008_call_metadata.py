"""Call metadata and idempotent submission (issue 20)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 16:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("metadata", sa.JSON))
        batch.add_column(sa.Column("external_id", sa.String(200)))
        batch.create_index("ix_calls_external_id", ["external_id"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("metadata", sa.JSON))
        batch.add_column(sa.Column("external_id", sa.String(200)))
        batch.add_column(sa.Column("content_sha256", sa.String(64)))
        batch.create_index("ix_jobs_external_id", ["external_id"])
        batch.create_index("ix_jobs_content_sha256", ["content_sha256"])
    op.create_table(
        "call_metadata",
        sa.Column("call_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name="fk_call_metadata_call_id_calls",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("call_id", "key", name="pk_call_metadata"),
    )
    op.create_index("ix_call_metadata_key_value", "call_metadata", ["key", "value"])


def downgrade() -> None:
    op.drop_index("ix_call_metadata_key_value", "call_metadata")
    op.drop_table("call_metadata")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_content_sha256")
        batch.drop_index("ix_jobs_external_id")
        batch.drop_column("content_sha256")
        batch.drop_column("external_id")
        batch.drop_column("metadata")
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_external_id")
        batch.drop_column("external_id")
        batch.drop_column("metadata")

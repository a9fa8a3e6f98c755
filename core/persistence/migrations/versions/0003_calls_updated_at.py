"""calls.updated_at index: search reads max(updated_at) before every query

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 12:00:00
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.create_index("ix_calls_updated_at", ["updated_at"])


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_updated_at")

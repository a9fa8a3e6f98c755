"""The agent who handled each call (upload metadata), for the per-agent views

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("agent", sa.String(100)))
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("agent", sa.String(100)))
        batch.create_index("ix_calls_agent", ["agent"])


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_agent")
        batch.drop_column("agent")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("agent")

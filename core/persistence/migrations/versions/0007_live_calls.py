"""Live calls: the calls streamed in while they run (issue 19)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_calls",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("encoding", sa.String(16), nullable=False),
        sa.Column("sample_rate", sa.Integer, nullable=False),
        sa.Column("channels", sa.Integer, nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("agent", sa.String(100)),
        sa.Column("created_by", sa.String(200)),
        sa.Column("audio_path", sa.Text, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("snapshot", sa.JSON, nullable=False),
        sa.Column("job_id", sa.String(36)),
        sa.Column("call_id", sa.String(36)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_live_calls"),
    )
    op.create_index("ix_live_calls_status", "live_calls", ["status"])


def downgrade() -> None:
    op.drop_index("ix_live_calls_status", "live_calls")
    op.drop_table("live_calls")

"""Ingest: the files a watched folder has taken, so none is submitted twice (issue 20)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 16:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_files",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("root", sa.String(1024), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("path_key", sa.String(64), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("job_id", sa.String(36)),
        sa.Column("call_id", sa.String(36)),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ingest_files"),
    )
    # One row per file and content: the same name with other audio is another file.
    op.create_index(
        "ix_ingest_files_path_key_sha",
        "ingest_files",
        ["path_key", "content_sha256"],
        unique=True,
    )
    op.create_index("ix_ingest_files_status", "ingest_files", ["status"])


def downgrade() -> None:
    op.drop_index("ix_ingest_files_status", "ingest_files")
    op.drop_index("ix_ingest_files_path_key_sha", "ingest_files")
    op.drop_table("ingest_files")

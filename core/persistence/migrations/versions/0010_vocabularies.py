"""Vocabularies: custom vocabulary lists and replacement tables, global or per team (issue 20)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vocabularies",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text, server_default="", nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("team", sa.String(200)),
        sa.Column("terms", sa.JSON, nullable=False),
        sa.Column("replacements", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_vocabularies"),
        sa.UniqueConstraint("name", name="uq_vocabularies_name"),
    )
    op.create_index("ix_vocabularies_scope_team", "vocabularies", ["scope", "team"])


def downgrade() -> None:
    op.drop_index("ix_vocabularies_scope_team", "vocabularies")
    op.drop_table("vocabularies")

"""Custom categories (rules over a call's document) and the calls each one tags

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "categories",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_categories"),
        sa.UniqueConstraint("name", name="uq_categories_name"),
    )
    op.create_table(
        "call_categories",
        sa.Column("call_id", sa.String(36), nullable=False),
        sa.Column("category_id", sa.String(36), nullable=False),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name="fk_call_categories_call_id_calls",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name="fk_call_categories_category_id_categories",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("call_id", "category_id", name="pk_call_categories"),
    )
    with op.batch_alter_table("call_categories") as batch:
        batch.create_index("ix_call_categories_category_id", ["category_id"])


def downgrade() -> None:
    with op.batch_alter_table("call_categories") as batch:
        batch.drop_index("ix_call_categories_category_id")
    op.drop_table("call_categories")
    op.drop_table("categories")

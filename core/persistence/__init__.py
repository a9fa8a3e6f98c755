"""Persistence: SQLAlchemy 2.x models, repositories, Alembic migrations."""

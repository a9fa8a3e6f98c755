"""Persistence: SQLAlchemy 2.x models, one repository per aggregate (the only SQL), the
unit of work that gives them one transaction, and Alembic migrations."""

//! alembic.ini and pyproject.toml [tool.alembic] (helper B writes this).

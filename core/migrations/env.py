"""The single Alembic environment: one version table, one branch per addon.

It is only run through :mod:`core.migrate`, which passes the connection in
``config.attributes`` so that migrations run inside the caller's transaction.
"""

from __future__ import annotations

from alembic import context

from core.db import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

"""Alembic environment: migrations run against the engine the case hands over (no alembic.ini)."""

from __future__ import annotations

from alembic import context

from db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds tables
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()

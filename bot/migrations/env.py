"""Alembic runs this for every command: it migrates the connection bot.migrate opened and locked."""

from alembic import context

from bot.migrate import run_migrations

run_migrations(context)

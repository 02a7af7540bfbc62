#!/usr/bin/env bash
# Runs HRTP Intake on this machine: makes .venv, installs the project, upgrades the database
# (DATABASE_URL, or SQLite by default) and starts the service. Extra arguments go to
# `hrtp-intake serve` (for example --port 8080).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/hrtp-intake ] || [ pyproject.toml -nt .venv/.installed-run ] || [ requirements.lock -nt .venv/.installed-run ]; then
  echo "Setting up .venv (first run only)..."
  "$PYTHON" -m venv .venv
  # requirements.lock holds the exact versions the suite passed with (see README, "Dependencies").
  .venv/bin/pip install --quiet --constraint requirements.lock -e .
  .venv/bin/hrtp-intake i18n compile >/dev/null  # .mo files are built, never committed
  touch .venv/.installed-run
fi
# The app never makes tables: migrations do, here on every start (a no-op when already at head).
.venv/bin/hrtp-intake db upgrade
# The job queue's worker sends staff messages and Telegram replies; it runs beside the web server
# (SQLite storage beside the database, or Redis when REDIS_URL is set). Both run in the background so
# that Ctrl-C, a TERM to this script, or either one ending stops the other as well.
.venv/bin/hrtp-intake worker &
worker=$!
.venv/bin/hrtp-intake serve "$@" &
server=$!
trap 'kill "$server" "$worker" 2>/dev/null; wait 2>/dev/null' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
wait -n "$server" "$worker"

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
exec .venv/bin/hrtp-intake serve "$@"

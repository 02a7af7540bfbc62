#!/usr/bin/env bash
# Installs everything the tests need (Python packages into .venv; Debian's chromium and
# postgresql when it can), runs ruff and mypy, then the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/pytest ] || [ pyproject.toml -nt .venv/.installed-test ] || [ requirements.lock -nt .venv/.installed-test ]; then
  echo "Setting up .venv with the test dependencies..."
  "$PYTHON" -m venv .venv
  # requirements.lock holds the exact versions the suite passed with (see README, "Dependencies").
  .venv/bin/pip install --quiet --constraint requirements.lock -e ".[test]"
  .venv/bin/hrtp-intake i18n compile >/dev/null  # .mo files are built, never committed
  touch .venv/.installed-test
fi
# Debian packages the tests use: chromium (browser tests), postgresql and redis-server (the same
# suite's PostgreSQL and Redis tests start throwaway servers), and the flyer's Pango and fonts. Tests that need one skip, saying why,
# without it; under CI (CI set) the Redis queue tests fail instead.
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || need+=(redis-server)
# The flyer PDFs: WeasyPrint's Pango and HarfBuzz, and Noto faces for every script the 15 languages write.
if command -v dpkg-query >/dev/null; then
  for pkg in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-core fonts-noto-cjk; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
  done
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Debian packages for the tests: ${need[*]}..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null) \
      || echo "warning: could not install ${need[*]}; the tests that need them will be skipped"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null) \
      || echo "warning: could not install ${need[*]}; the tests that need them will be skipped"
  else
    echo "note: ${need[*]} missing and we cannot install them; the tests that need them will be skipped"
  fi
fi
# axe-core from npm for the browser tests' accessibility checks, kept out of git under .cache/;
# without npm those checks skip, and the contrast test that computes WCAG ratios itself still runs.
AXE_VERSION=4.14.1
if [ ! -f ".cache/axe-$AXE_VERSION/node_modules/axe-core/axe.min.js" ] && command -v npm >/dev/null; then
  (timeout 180 npm install --silent --no-save --no-audit --no-fund --prefix ".cache/axe-$AXE_VERSION" "axe-core@$AXE_VERSION" >/dev/null 2>&1) \
    || echo "note: could not install axe-core with npm; the axe checks will be skipped"
fi
# Lint and types first: a few seconds, and a finding fails the run before the suite starts.
if ! .venv/bin/ruff check --quiet --output-format concise .; then
  echo "ruff: the findings above fail the run. '.venv/bin/ruff check --fix' repairs import order and the" \
       "pyupgrade rewrites; the rest (line length, blind except, zip strict=) is by hand." >&2
  exit 1
fi
if ! .venv/bin/mypy; then
  echo "mypy: the type errors above fail the run (settings: pyproject.toml, [tool.mypy])." >&2
  exit 1
fi
# With no paths given, the fuzz properties (minutes at CI's 10,000 examples) run in a second pytest beside the
# rest, on the second core: each run starts its own PostgreSQL and Redis on free ports and works in its own
# temporary directories, so the two cannot meet. HRTP_TEST_SPLIT=0 runs everything in one process.
paths=0
for a in "$@"; do [ -e "${a%%::*}" ] && paths=1; done  # an option's value (-p no:cacheprovider) is no path
if [ "$paths" = 0 ] && [ "${HRTP_TEST_SPLIT:-1}" = 1 ] && [ "$(nproc 2>/dev/null || echo 1)" -gt 1 ]; then
  fuzz_log=$(mktemp)
  .venv/bin/pytest -q "$@" tests/test_webhook_fuzz.py >"$fuzz_log" 2>&1 &
  fuzz_pid=$!
  suite_rc=0
  .venv/bin/pytest -q "$@" --ignore=tests/test_webhook_fuzz.py || suite_rc=$?
  fuzz_rc=0
  wait "$fuzz_pid" || fuzz_rc=$?
  [ "$fuzz_rc" = 5 ] && fuzz_rc=0  # pytest's "no tests collected": a -k or -m that selects no fuzz property
  echo "---- tests/test_webhook_fuzz.py (run beside the suite) ----"
  cat "$fuzz_log"
  rm -f "$fuzz_log"
  [ "$suite_rc" = 0 ] && [ "$fuzz_rc" = 0 ] && exit 0
  echo "failed: the suite exited $suite_rc, the fuzz run $fuzz_rc" >&2
  exit 1
fi
exec .venv/bin/pytest -q "$@"

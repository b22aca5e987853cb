#!/usr/bin/env bash
# Sets up everything the tests need on a fresh machine, from the project's own files, then runs them.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k emulator`).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

# Headless Chromium for the browser tests, from Debian's packages (no browser download at run time).
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# Sets up everything the tests need from the project's own files, then runs them on every core.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k emulator`).
#
# The browser tests drive Debian's headless Chromium. Where it is missing and cannot be installed
# (no apt-get, no root), they are skipped with a reason; under CI=true a missing browser is an
# error instead, so CI never passes without them.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
# pip compiles an installed package's modules, but not an editable install's. Compile them once
# here: the suite starts about 60 Python processes (kernels, CLIs, Spark and Dask workers), and
# where PYTHONDONTWRITEBYTECODE is set none of them would keep the bytecode it compiled.
.venv/bin/python -m compileall -q kameleoon_pandas

if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"; else SUDO="none"; fi
  fi
  if [ "$SUDO" != none ] && command -v apt-get >/dev/null 2>&1; then
    # From Debian's packages: no browser download at run time.
    { $SUDO apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; } ||
      echo "scripts/test.sh: could not install chromium with apt-get" >&2
  else
    echo "scripts/test.sh: no apt-get (or no root): the browser tests will be skipped" >&2
  fi
fi

# The Spark tests need Java (17, as on Databricks and Spark 4's images); Debian's headless JRE.
if ! command -v java >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"; else SUDO="none"; fi
  fi
  if [ "$SUDO" != none ] && command -v apt-get >/dev/null 2>&1; then
    { $SUDO apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null; } ||
      echo "scripts/test.sh: could not install openjdk-17-jre-headless with apt-get" >&2
  else
    echo "scripts/test.sh: no Java and no apt-get (or no root): the Spark tests will be skipped" >&2
  fi
fi

# loadgroup: the tests that share the demo report (xdist_group) run on one worker, so the demo
# runs once; everything else is spread over the cores. One worker more than cores: many tests wait
# on another process (a kernel, a CLI, a server's Retry-After), and on 2 cores the third worker
# keeps both busy through those waits (1.9 cores busy on average rather than 1.75: the whole suite
# took about 0.52 s of wall per core-s of work, against 0.57 with two workers). `-n N` overrides.
workers=$(( $(getconf _NPROCESSORS_ONLN) + 1 ))
exec .venv/bin/python -m pytest -n "$workers" --dist loadgroup "$@"

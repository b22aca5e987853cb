#!/usr/bin/env bash
# The checks beside the tests: lint, format, types, the import contracts and the docs build.
# Needs the dev extra: `.venv/bin/pip install -e '.[dev]'` (.ci/run installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin

echo "== ruff"
$bin/ruff check .
$bin/ruff format --check .
echo "== mypy"
$bin/mypy
echo "== import contracts"
$bin/lint-imports
echo "== docs"
NO_MKDOCS_2_WARNING=1 $bin/mkdocs build --strict --quiet
echo "all checks passed"

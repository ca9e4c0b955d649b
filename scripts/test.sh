#!/usr/bin/env bash
# Set up everything and run the whole test suite: the command .ci/run calls.
#   Debian packages -> Docker engine -> .venv -> local test images (also into podman's
#   store, its API service started) -> lint, types, tests.
# Extra arguments go to pytest (e.g. scripts/test.sh -m "not docker").
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-system-deps.sh
scripts/ensure-docker.sh
scripts/setup-dev.sh
scripts/build-test-images.sh
scripts/ensure-podman.sh
echo "== ruff"; .venv/bin/ruff check wheelhub tests bench
echo "== mypy"; .venv/bin/mypy
echo "== pytest"; .venv/bin/pytest -q -p no:cacheprovider "$@"

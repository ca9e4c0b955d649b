#!/usr/bin/env bash
# Create .venv with wheelhub and its test tools installed (editable).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${WHEELHUB_PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test,anaconda,postgres]'

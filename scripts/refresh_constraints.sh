#!/usr/bin/env bash
# Pin constraints.txt to the exact versions installed in .venv. Run it after the suite has
# passed in a venv installed without the old pins, e.g.
#   python3 -m venv .venv && .venv/bin/pip install torch==2.13.0 -e ".[dev,onnx]"
#   .venv/bin/python -m pytest -q && scripts/refresh_constraints.sh
set -euo pipefail
cd "$(dirname "$0")/.."
{
  echo "# The exact versions the test suite last passed with (CI and the README's development install)."
  echo "# Refresh: scripts/refresh_constraints.sh (see the README). Local build labels such as +cpu are"
  echo "# dropped so the pins hold for any build of the same release."
  .venv/bin/pip freeze --exclude-editable | sed -E 's/\+[A-Za-z0-9.]+$//'
} > constraints.txt
echo "wrote constraints.txt ($(grep -vc '^#' constraints.txt) pins)"

#!/usr/bin/env bash
# Create ./.venv (if needed) and install equirestore with its test tools into it.
# torch/torchvision: the releases that lie on this project's machines' disks are pinned
# here (override with EQUIRESTORE_TORCH="torch torchvision" elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import torch, torchvision" >/dev/null 2>&1; then
  echo "[setup] installing torch + torchvision into .venv (about a minute)"
  # shellcheck disable=SC2086
  .venv/bin/pip install -q --disable-pip-version-check ${EQUIRESTORE_TORCH:-torch==2.14.1 torchvision==0.29.1} 2>&1 | grep -v "^WARNING: Location" || true
fi
echo "[setup] installing equirestore (editable) with extras: ${1:-dev}"
.venv/bin/pip install -q --disable-pip-version-check -e ".[${1:-dev}]" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import equirestore, torch; print('[setup] equirestore', equirestore.__version__, 'torch', torch.__version__)"

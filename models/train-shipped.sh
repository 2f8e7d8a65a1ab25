#!/usr/bin/env bash
# Retrain the models we ship, with impsy-train's defaults, from the real performance logs in
# ../shared/data, and put them in place of the shipped ones (this script alone replaces models:
# `impsy-train train` never does). Each model comes with its report and loss plot.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
TRAIN=${TRAIN:-.venv/bin/impsy-train}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for dimension in 9 4; do
    logs="$DATA/performances-${dimension}d"
    [ -d "$logs" ] || { echo "no logs in $logs: set DATA to the folder holding performances-${dimension}d" >&2; exit 1; }
    stem="musicMDRNN-dim${dimension}-layers2-units64-mixtures5-scale10"
    "$TRAIN" train --dimension "$dimension" --modelsize s --logs "$logs" --models "$out"
    rm -f "models/$stem".{tflite,keras,report.json,loss.png,loss.svg}
    mv "$out/$stem".* models/
done

#!/usr/bin/env bash
# Retrain the models we ship with impsy-train (its defaults, but for what follows) from the real
# performance logs in ../shared/data, and put them in place of the shipped ones (this script
# alone replaces models: `impsy-train train` never does). Each model comes with its report and loss plot.
# The 9d knobs get 10 mixture components (configs/default.toml plays that one); the 9d model with
# 5 stays for configs written for the original IMPSY, which name it. The 4d touch model gives dt
# 5 components of its own (--timings 5), so its file holds 5 x 5 = 25; the plain 4d model with 5
# stays for the original's configs too. The default 9d model and both 4d models train at a third
# of the default learning rate for 100 epochs or more: at 1e-3 the training loss keeps jumping
# back up for tens of epochs, and all three folds predict better (bench/model_quality.py). The touch model
# also reads log(dt) and spends the first 40 of its 140 epochs dequantised, which teaches it to
# remember its recent gaps (bench/model_quality.py: timings5-memory, better on all three folds
# than timings5-slow, the plain 4d file's recipe). MODELS picks some of them, e.g. MODELS=4:5:5.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
TRAIN=${TRAIN:-.venv/bin/impsy-train}
MODELS=${MODELS:-9:10:0 9:5:0 4:5:5 4:5:0}  # dimension:mixtures:timings
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for model in $MODELS; do
    IFS=: read -r dimension mixtures timings <<<"$model"
    components=$((mixtures * (timings > 0 ? timings : 1)))
    logs="$DATA/performances-${dimension}d"
    [ -d "$logs" ] || { echo "no logs in $logs: set DATA to the folder holding performances-${dimension}d" >&2; exit 1; }
    stem="musicMDRNN-dim${dimension}-layers2-units64-mixtures${components}-scale10"
    case "$model" in
        4:5:5) recipe=(--learning-rate 3e-4 --epochs 140 --log-dt --dequantise on --dequantise-epochs 40) ;;
        4:5:0 | 9:10:0) recipe=(--learning-rate 3e-4 --epochs 100) ;;
        *) recipe=() ;;
    esac
    "$TRAIN" train --dimension "$dimension" --modelsize s --mixtures "$mixtures" --timings "$timings" \
        "${recipe[@]}" --logs "$logs" --models "$out"
    rm -f "models/$stem".{tflite,keras,report.json,loss.png,loss.svg}
    mv "$out/$stem".* models/
done

"""The model on the Pi's budget: closed-loop step time, memory and start-up, runtime only.

Installs the runtime package alone (`pip install .`: no TensorFlow) into a fresh venv, then in
a fresh process imports impsy, loads the shipped 9d model and runs 10,000 closed-loop steps
(step, sample, feed the sample back), printing each figure beside its target as a ratio.

usage: python bench/model_step.py [--venv DIR] [--steps N] [--model FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"
TARGETS = {"p50_us": 40.0, "p99_us": 150.0, "peak_rss_mb": 60.0, "import_and_load_s": 0.5}

# Runs inside the runtime-only venv; everything it measures happens in that one process.
PROBE = """
import time
started = time.perf_counter()
import impsy
from impsy.model import load_model
model = load_model({model!r})
loaded = time.perf_counter() - started
import json, resource, sys
import numpy as np
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
x = np.zeros(model.dimension)
times = np.empty({steps})
clock = time.perf_counter
for i in range({steps}):
    t0 = clock()
    x = model.sample(model.step(x), 1.0, 0.01)
    times[i] = clock() - t0
print(json.dumps({{
    "p50_us": float(np.percentile(times, 50) * 1e6),
    "p99_us": float(np.percentile(times, 99) * 1e6),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "import_and_load_s": loaded,
    "heavy_modules": heavy,
}}))
"""


def runtime_venv(folder: Path) -> Path:
    """A venv with the runtime package only; reused if it is already there."""
    python = folder / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(REPO)], check=True)
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, help="a runtime-only venv to reuse (default: a fresh one)")
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--model", type=Path, default=MODEL)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        python = runtime_venv(args.venv or Path(tmp) / "venv")
        probe = PROBE.format(model=str(args.model), steps=args.steps)
        out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"model: {args.model.name}, {args.steps} closed-loop steps, runtime-only venv")
    print(f"TensorFlow/Keras imported: {figures.pop('heavy_modules') or 'no'}")
    for key, target in TARGETS.items():
        value = figures[key]
        print(f"  {key:18s} {value:9.3f}   target {target:g}   ratio {value / target:.2f}"
              f"   {'ok' if value <= target else 'OVER'}")


if __name__ == "__main__":
    main()

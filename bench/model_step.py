"""The model on the Pi's budget: closed-loop step time, memory and start-up, runtime only.

Installs the runtime package alone (`pip install .`: no TensorFlow) into a fresh venv, then in
a fresh process imports impsy, loads the model configs/default.toml plays (the shipped 9d one)
and runs 10,000 closed-loop steps (step, sample, feed the sample back) with that config's
sampling settings (temperatures, persistence, one control at a time), interleaved with 10,000
bare LiteRT invokes of the same interpreter, printing each figure beside its target as a ratio;
step_over_invoke is the closed-loop step's median over the bare invoke's.

usage: python bench/model_step.py [--venv DIR] [--steps N] [--model FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "default.toml"
MODEL = REPO / tomllib.loads(CONFIG.read_text())["model"]["file"]  # the model a fresh Pi plays
TARGETS = {
    "p50_us": 40.0,
    "step_over_invoke": 2.0,  # the closed-loop step against the bare LiteRT invoke (issue 15)
    "p99_us": 150.0,
    "peak_rss_mb": 60.0,
    "import_and_load_s": 0.5,
}

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
from impsy.config import load_config
shipped = load_config({config!r}).model  # how a performance samples
sigmatemp = shipped.sigmatemp if {sigmatemp!r} is None else {sigmatemp!r}
pitemp = shipped.pitemp if {pitemp!r} is None else {pitemp!r}
persistence, one = shipped.persistence, shipped.one_at_a_time
x = np.zeros(model.dimension)
clock = time.perf_counter
invoke = getattr(model, "_invoke", None) or model._interpreter.invoke  # raw, as the model calls it
step, sample = model.step, model.sample
times = np.empty({steps})
bare = np.empty({steps})
# Interleaved in rounds of 100, so that a busy machine slows both alike.
for r in range(0, {steps}, 100):
    for i in range(r, min(r + 100, {steps})):
        t0 = clock()
        x = sample(step(x), pitemp, sigmatemp, persistence, one)
        times[i] = clock() - t0
    for i in range(r, min(r + 100, {steps})):
        t0 = clock()
        invoke()
        bare[i] = clock() - t0
p50, invoke50 = float(np.percentile(times, 50) * 1e6), float(np.percentile(bare, 50) * 1e6)
print(json.dumps({{
    "p50_us": p50,
    "invoke_p50_us": invoke50,
    "step_over_invoke": p50 / invoke50,
    "p99_us": float(np.percentile(times, 99) * 1e6),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "import_and_load_s": loaded,
    "heavy_modules": heavy,
    "temperatures": [sigmatemp, pitemp, persistence, one],
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
    parser.add_argument("--sigmatemp", type=float, help="default: the config default")
    parser.add_argument("--pitemp", type=float, help="default: the config default")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        python = runtime_venv(args.venv or Path(tmp) / "venv")
        probe = PROBE.format(
            model=str(args.model), steps=args.steps, sigmatemp=args.sigmatemp, pitemp=args.pitemp,
            config=str(CONFIG),
        )  # fmt: skip
        out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"model: {args.model.name}, {args.steps} closed-loop steps, runtime-only venv")
    print(f"TensorFlow/Keras imported: {figures.pop('heavy_modules') or 'no'}")
    sigmatemp, pitemp, persistence, one = figures.pop("temperatures")
    print(f"  sigmatemp {sigmatemp:g}, pitemp {pitemp:g}, persistence {persistence:g}, one at a time {one}")
    print(f"  bare LiteRT invoke p50 {figures.pop('invoke_p50_us'):.1f} us (measured alongside)")
    for key, target in TARGETS.items():
        value = figures[key]
        print(f"  {key:18s} {value:9.3f}   target {target:g}   ratio {value / target:.2f}"
              f"   {'ok' if value <= target else 'OVER'}")


if __name__ == "__main__":
    main()

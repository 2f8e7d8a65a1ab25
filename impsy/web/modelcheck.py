"""Check .tflite files in a child process: `python -m impsy.web.modelcheck FILE...`.

A model file is loaded, its shape read, and a few predictions timed. This runs in its own
process because a malformed flatbuffer can crash the interpreter outright: an upload must never
take the web UI down with it. Prints one JSON object per file, in order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

STEPS = 20
TIMEOUT = 120.0  # seconds for a whole batch; a Zero 2 W takes a few seconds to import LiteRT


def check_file(path: str, steps: int = STEPS) -> dict:
    """What the runtime would see of this file, or {"error": ...}."""
    import numpy as np

    from impsy.model import ModelError, load_model

    file = Path(path)
    if file.suffix != ".tflite":
        return {"error": "the runtime plays .tflite models only"}
    try:
        if file.stat().st_size == 0:
            return {"error": "the file is empty"}
        model = load_model(file)
        info = model.info
        x = np.zeros(model.dimension, dtype=np.float32)
        times = []
        for _ in range(steps + 2):
            started = time.perf_counter()
            x = model.sample(model.step(x))
            times.append(time.perf_counter() - started)
        if not np.all(np.isfinite(x)):
            return {"error": "its predictions are not finite numbers"}
    except ModelError as error:
        return {"error": str(error).replace(str(file) + ": ", "")}
    except Exception as error:  # anything the interpreter throws at a bad file
        return {"error": f"cannot be run ({type(error).__name__}: {error})"}
    ms = sorted(t * 1000 for t in times[2:])  # the first steps warm up the interpreter
    return {
        "dimension": info.dimension,
        "units": info.units,
        "layers": info.layers,
        "mixtures": info.mixtures,
        "size": info.size,
        "layout": info.layout,
        "ms_per_step": round(ms[len(ms) // 2], 3),
    }


def check_files(paths: list[Path], timeout: float = TIMEOUT, python: str = sys.executable) -> list[dict]:
    """Check files in a child process; a crash or a hang is reported for every file, not raised."""
    if not paths:
        return []
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        done = subprocess.run(
            [python, "-m", "impsy.web.modelcheck", *map(str, paths)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return [{"error": f"checking took longer than {timeout:g} s"}] * len(paths)
    results = []
    for line in done.stdout.splitlines():
        try:
            results.append(json.loads(line))
        except ValueError:
            continue
    if done.returncode < 0:
        crash = {"error": f"it crashed the model interpreter (signal {-done.returncode})"}
    else:
        crash = {"error": "the check stopped early: " + (done.stderr.strip().splitlines() or ["?"])[-1]}
    return results + [crash] * (len(paths) - len(results))


def main(argv: list[str]) -> int:
    for path in argv:
        print(json.dumps(check_file(path)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

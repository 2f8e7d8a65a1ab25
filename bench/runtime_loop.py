"""`impsy run` measured from outside over real UDP on loopback, all in one run.

- latency: /interface in -> /impsy out in polyphony mode, one message at a time
- start: from launching the process to its first prediction (battle mode plays at once)
(both at timescale 1e-4, so a reply's scheduled delay is microseconds and what remains is
IMPSY's own work)
- idle CPU: useronly mode, no input, over 10 s
- peak RSS: the process's high-water mark after all of the above

usage: python bench/runtime_loop.py [--messages N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from udp_harness import Impsy

TARGETS = {"latency_p50_ms": None, "latency_p99_ms": 2.0, "start_to_first_s": 1.0,
           "idle_cpu_pct": 2.0, "peak_rss_mb": 80.0}
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    args = parser.parse_args()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Timescale 1e-4 throughout: the model's own predicted delays shrink to microseconds, so
        # what is measured is IMPSY's work (the first event is otherwise its first dt late).
        run = Impsy(Path(tmp), mode="battle", timescale=1e-4, wait=False)
        run.client.next("/impsy")
        figures["start_to_first_s"] = time.monotonic() - run.started

        run.send("/impsy/mode", "polyphony", port=run.command_port)
        time.sleep(0.5)
        run.client.drain()
        latencies = []
        for i in range(args.messages):
            sent = time.perf_counter()
            run.send("/interface", *([(i % 100) / 100] * 8))
            run.client.next("/impsy")
            latencies.append(time.perf_counter() - sent)
        ms = np.array(latencies) * 1000
        figures["latency_p50_ms"] = float(np.percentile(ms, 50))
        figures["latency_p99_ms"] = float(np.percentile(ms, 99))

        run.send("/impsy/mode", "useronly", port=run.command_port)
        time.sleep(1.0)
        before = cpu_seconds(run.process.pid)
        time.sleep(args.idle_seconds)
        figures["idle_cpu_pct"] = 100 * (cpu_seconds(run.process.pid) - before) / args.idle_seconds
        figures["peak_rss_mb"] = peak_rss_mb(run.process.pid)
        run.stop()
    print(f"impsy run over loopback UDP: {args.messages} round trips, {args.idle_seconds:g} s idle")
    for key, target in TARGETS.items():
        value = figures[key]
        verdict = "" if target is None else (
            f"   target {target:g}   ratio {value / target:.2f}   {'ok' if value <= target else 'OVER'}")
        print(f"  {key:18s} {value:9.3f}{verdict}")


if __name__ == "__main__":
    main()

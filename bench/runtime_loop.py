"""`impsy run` measured from outside over real UDP on loopback, all in one run.

- latency: /interface in -> /impsy out in polyphony mode, one message at a time
- start: from launching the process to its first prediction (battle mode plays at once)
(both at timescale 0.001, the smallest a config allows, and sigma temperature 0.01, so a
reply's scheduled delay is tens of µs and what remains is IMPSY's own work)
- idle CPU: useronly mode, no input, over 10 s
- peak RSS: the process's high-water mark after all of the above
- latency again while `impsy-train` trains beside it at the lowest priority (nice 19, idle
  I/O class), as the instrument learns between sets
- the monitor's cost (--monitor-rounds): the latency's p99 with `impsy webui` running and a
  client reading its live monitor stream (what an open Monitor page does), against the p99
  with no web UI at all, in alternating rounds so that the machine's other load falls on both

usage: python bench/runtime_loop.py [--messages N] [--no-training] [--monitor-rounds N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from udp_harness import MODEL_9D, Impsy
from web.helpers import free_port, start_webui, stop

from impsy.web.lowpriority import lowpriority_command
from impsy.web.trainer import MEMORY_CAP_MB

TARGETS = {"latency_p50_ms": None, "latency_p99_ms": 2.0, "start_to_first_s": 1.0,
           "idle_cpu_pct": 2.0, "peak_rss_mb": 80.0,
           "training_beside_p50_ms": None, "training_beside_p99_ms": 2.0, "monitor_p99_without_ms": None,
           "monitor_p99_with_ms": None, "monitor_p99_ratio": 1.10}
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "performances-9d"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def round_trips(run: Impsy, messages: int) -> np.ndarray:
    """Milliseconds from each /interface sent to its /impsy reply, one message at a time."""
    latencies = []
    for i in range(messages):
        sent = time.perf_counter()
        run.send("/interface", *([(i % 100) / 100] * 8))
        run.client.next("/impsy")
        latencies.append(time.perf_counter() - sent)
    return np.array(latencies) * 1000


def training_beside(folder: Path) -> subprocess.Popen:
    """`impsy-train train` on the real logs (or generated ones where they are not), for long enough."""
    logs = DATA if DATA.is_dir() else make_logs(folder / "logs")
    command = [sys.executable, "-m", "impsy_train.cli", "train", "-D", "9", "--epochs", "200",
               "--logs", str(logs), "--models", str(folder / "models")]  # fmt: skip
    # As the web UI runs it on a laptop: nice 19, the idle I/O class, its memory cap.
    child = subprocess.Popen(lowpriority_command(command, MEMORY_CAP_MB), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)  # fmt: skip
    for line in child.stdout:  # measure once it is into its epochs, not while it reads the logs
        if line.startswith("training"):
            break
    return child


def make_logs(folder: Path) -> Path:
    from conftest import gesture, write_log

    start = datetime(2026, 1, 1, 20, 0)
    for p in range(6):
        write_log(folder, 9, start + timedelta(hours=p), [gesture(3000, 8, phase=p)], pause=0)
    return folder


class MonitorReader(threading.Thread):
    """Reads /monitor/stream as an open Monitor page does, counting the forecasts it gets."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.forecasts = 0

    def run(self) -> None:
        self.sock.sendall(b"GET /monitor/stream HTTP/1.1\r\nHost: localhost\r\n\r\n")
        try:
            while chunk := self.sock.recv(65536):
                self.forecasts += chunk.count(b'"forecast":[[')
        except OSError:  # closed by close()
            pass

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def monitor_cost(run: Impsy, workdir: Path, messages: int, rounds: int) -> dict[str, float]:
    """p99 with no web UI, and with `impsy webui` serving an open monitor, in alternating rounds."""
    run.monitor.sock.close()  # the harness's stand-in gives the web UI its monitor port
    without, with_monitor, forecasts = [], [], 0
    for _ in range(rounds):
        run.client.drain()
        without.append(np.percentile(round_trips(run, messages), 99))
        port = free_port()
        web = start_webui(workdir, port)
        reader = MonitorReader(port)
        reader.start()
        time.sleep(1.0)  # the stream is open and `impsy run`'s reports arrive
        run.client.drain()
        with_monitor.append(np.percentile(round_trips(run, messages), 99))
        forecasts += reader.forecasts
        reader.close()
        stop(web)
    if not forecasts:
        raise RuntimeError("the monitor stream carried no forecasts: nothing was measured")
    p99_without, p99_with = float(np.median(without)), float(np.median(with_monitor))
    return {
        "monitor_p99_without_ms": p99_without,
        "monitor_p99_with_ms": p99_with,
        "monitor_p99_ratio": p99_with / p99_without,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--no-training", action="store_true", help="skip the run beside a training")
    parser.add_argument("--monitor-rounds", type=int, default=3, help="0 skips the monitor's cost")
    args = parser.parse_args()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Timescale 0.001 (the smallest allowed) throughout: the predicted delays shrink to µs, so
        # what is measured is IMPSY's work (the first event is otherwise its first dt late).
        # The model inside the working folder, so that `impsy webui` accepts its config too.
        (Path(tmp) / "models").mkdir()
        shutil.copy(MODEL_9D, Path(tmp) / "models" / MODEL_9D.name)
        run = Impsy(Path(tmp), mode="battle", timescale=0.001, wait=False, model=f"models/{MODEL_9D.name}")
        run.client.next("/impsy")
        figures["start_to_first_s"] = time.monotonic() - run.started

        run.send("/impsy/mode", "polyphony", port=run.command_port)
        # The default 0.5 samples a few long pauses, each a reply held back by its dt x 0.001.
        run.send("/impsy/sigmatemp", 0.01, port=run.command_port)
        time.sleep(0.5)
        run.client.drain()
        ms = round_trips(run, args.messages)
        figures["latency_p50_ms"] = float(np.percentile(ms, 50))
        figures["latency_p99_ms"] = float(np.percentile(ms, 99))
        if not args.no_training:
            trainer = training_beside(Path(tmp))
            try:
                ms = round_trips(run, args.messages)
            finally:
                trainer.send_signal(signal.SIGINT)
                trainer.wait(timeout=120)
            figures["training_beside_p50_ms"] = float(np.percentile(ms, 50))
            figures["training_beside_p99_ms"] = float(np.percentile(ms, 99))
        if args.monitor_rounds:
            figures.update(monitor_cost(run, Path(tmp), args.messages, args.monitor_rounds))

        run.send("/impsy/mode", "useronly", port=run.command_port)
        time.sleep(1.0)
        before = cpu_seconds(run.process.pid)
        time.sleep(args.idle_seconds)
        figures["idle_cpu_pct"] = 100 * (cpu_seconds(run.process.pid) - before) / args.idle_seconds
        figures["peak_rss_mb"] = peak_rss_mb(run.process.pid)
        run.stop()
    print(f"impsy run over loopback UDP: {args.messages} round trips, {args.idle_seconds:g} s idle")
    for key, target in TARGETS.items():
        if key not in figures:
            continue
        value = figures[key]
        verdict = "" if target is None else (
            f"   target {target:g}   ratio {value / target:.2f}   {'ok' if value <= target else 'OVER'}")
        print(f"  {key:18s} {value:9.3f}{verdict}")


if __name__ == "__main__":
    main()

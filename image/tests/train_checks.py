"""The instrument learns (boot test): inside the booted image, through the web UI's API as a
browser would use it, build a dataset from a few logs, train a tiny model for one epoch in
impsy-train.service, make it active and restart IMPSY in one request, and hear it answer
OSC; check the unit's limits, and that a run over its memory cap fails with a plain message.
Standard library only, like boot_checks.py.
"""

from __future__ import annotations

import http.cookiejar
import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta

UNIT = "impsy-train.service"
DROP_IN = "/run/systemd/system/impsy-train.service.d"
OVER_CAP = "16M"  # far below what Python and numpy alone take
TRAIN_TIMEOUT = 900.0  # seconds: one epoch of an xxs model under software emulation
LOGS = 4


class Web:
    """The web UI over the forwarded port, with its session cookie and CSRF token."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        cookies = urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        self.opener = urllib.request.build_opener(cookies)
        self.token = self.get("/api/csrf")["token"]

    def _open(self, request: urllib.request.Request, timeout: float) -> dict:
        request.add_header("Accept", "application/json")
        try:
            with self.opener.open(request, timeout=timeout) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as error:
            return {"error": f"HTTP {error.code}: {error.read().decode(errors='replace')[:300]}"}

    def get(self, path: str, timeout: float = 30) -> dict:
        return self._open(urllib.request.Request(self.base + path), timeout)

    def post(self, path: str, form: dict | None = None, timeout: float = 240) -> dict:
        data = urllib.parse.urlencode(form or {}).encode()
        request = urllib.request.Request(self.base + path, data=data, headers={"X-CSRF-Token": self.token})
        return self._open(request, timeout)

    def finish(self, job: str, timeout: float, while_running=None) -> dict:
        """Poll a job until it ends (its last summary); `while_running()` is called on each poll."""
        deadline = time.monotonic() + timeout
        summary: dict = {}
        while time.monotonic() < deadline:
            summary = self.get(f"/api/jobs/{job}")
            if summary.get("state") != "running":
                return summary
            if while_running:
                while_running()
            time.sleep(3)
        return {**summary, "state": "timed out"}


def log_text(dimension: int, started: datetime, phase: float) -> str:
    """An IMPSY log: two smooth gestures of 300 events, a minute apart."""
    rows, when = [], started
    for gesture in range(2):
        when += timedelta(seconds=60 * gesture)
        for i in range(300):
            when += timedelta(seconds=0.05)
            t = i * 0.05
            values = [0.5 + 0.4 * math.sin(t * (k + 1) + phase + gesture) for k in range(dimension - 1)]
            rows.append(",".join([when.isoformat(), "interface", *(f"{v:.6f}" for v in values)]))
    return "\n".join(rows) + "\n"


def put_logs(vm, dimension: int) -> list[str]:
    names = []
    for n in range(LOGS):
        started = datetime(2026, 1, 1 + n, 20, 0, 0)
        name = f"{started:%Y-%m-%dT%H-%M-%S}-{dimension}d-mdrnn.log"
        done = vm.ssh(f"cat > /srv/impsy/logs/{name}", stdin=log_text(dimension, started, n).encode())
        if done.returncode == 0:
            names.append(name)
    return names


def unit_props(vm, *names: str) -> dict[str, str]:
    out = vm.ssh(f"systemctl show {UNIT} " + " ".join(f"-p {n}" for n in names)).stdout.decode()
    return dict(line.split("=", 1) for line in out.split() if "=" in line)


def check_training(vm, report, dimension: int, check_osc) -> None:
    """Train (logs of the config's dimension), make active and restart, play (`check_osc`);
    then the unit's limits and an over-cap run."""
    props = unit_props(vm, "MemoryMax", "MemorySwapMax", "Nice", "IOSchedulingClass", "CPUSchedulingPolicy")
    report.check(
        "impsy-train.service limits",
        props.get("MemoryMax") == str(300 * 1024 * 1024)
        and props.get("MemorySwapMax") == "0"
        and props.get("Nice") == "19"
        and props.get("IOSchedulingClass") in ("3", "idle"),
        " ".join(f"{k}={v}" for k, v in props.items()),
    )

    logs = put_logs(vm, dimension)
    web = Web(vm.web)
    built = web.post("/datasets/build", {"dimension": dimension})
    dataset = web.finish(built.get("job", "?"), 300) if "job" in built else built
    report.check(
        "training: a dataset from the logs",
        len(logs) == LOGS and dataset.get("state") == "done",
        f"{len(logs)} {dimension}d logs written; build: {dataset.get('message') or dataset.get('error')}",
    )

    seen: dict[str, str] = {}

    def sample_priority() -> None:
        """While it trains: the nice value and scheduling class the process really has."""
        pid = unit_props(vm, "MainPID").get("MainPID", "0")
        if pid not in ("", "0") and "ps" not in seen:
            ps = vm.ssh(f"ps -o ni=,cls=,rss= -p {pid}").stdout.decode().split()
            if ps:
                seen["ps"] = f"pid {pid}: nice {ps[0]}, class {ps[1]}, {int(ps[2]) // 1024} MB resident"

    form = {"dataset": f"training-dataset-{dimension}d.npz", "size": "xxs", "epochs": "1"}
    started = time.monotonic()
    job = web.post("/training/start", form)
    trained = web.finish(job.get("job", "?"), TRAIN_TIMEOUT, sample_priority) if "job" in job else job
    took = time.monotonic() - started
    report.figures["train an xxs model for one epoch in the VM"] = took
    epochs = [e for e in trained.get("events", []) if e.get("type") == "epoch"]
    models = (trained.get("result") or {}).get("models") or []
    report.check(
        "training: a tiny model in impsy-train.service",
        trained.get("state") == "done" and bool(epochs) and bool(models),
        f"{trained.get('message') or trained.get('error')} ({len(epochs)} epoch events, "
        f"{took:.0f} s; {seen.get('ps', 'process not seen running')})",
    )
    if not models:
        return

    activated = web.post(f"/models/{models[0]}/activate", {"restart": "1"})

    def playing() -> str | None:
        status = web.get("/api/status")
        state = (status.get("run") or {}).get("state") or {}
        file = (state.get("model") or {}).get("file") or ""
        return file if (status.get("run") or {}).get("alive") and file.endswith(models[0]) else None

    deadline, file = time.monotonic() + 240, None
    while time.monotonic() < deadline and not (file := playing()):
        time.sleep(3)
    report.check(
        "training: make active and restart, one request",
        bool(activated.get("ok")) and bool(file),
        f"{activated.get('message') or activated.get('error')}; impsy run plays {file or 'something else'}",
    )
    check_osc(vm, report, "the trained model: OSC in, /impsy out")

    over_cap(vm, report, web, form)


def over_cap(vm, report, web: Web, form: dict) -> None:
    """A run over its cap (a drop-in for this test only) is killed by the kernel, not the Pi,
    and the web UI says so plainly."""
    setup = (
        f"sudo mkdir -p {DROP_IN} && printf '[Service]\\nMemoryMax={OVER_CAP}\\n' "
        f"| sudo tee {DROP_IN}/test-over-cap.conf >/dev/null && sudo systemctl daemon-reload"
    )
    vm.ssh(setup)
    job = web.post("/training/start", form)
    ended = web.finish(job.get("job", "?"), TRAIN_TIMEOUT) if "job" in job else job
    vm.ssh(f"sudo rm -rf {DROP_IN} && sudo systemctl daemon-reload")
    message = ended.get("message") or ended.get("error") or ""
    still = vm.ssh("systemctl is-active impsy-run impsy-web").stdout.decode().split()
    failed = vm.ssh("systemctl --failed --no-legend --plain").stdout.decode().strip()
    report.check(
        "training over its memory cap fails plainly",
        ended.get("state") == "failed"
        and message.startswith("training needed more than its 16 MB and was stopped")
        and still == ["active", "active"]
        and UNIT not in failed,
        f"MemoryMax={OVER_CAP}: {message!r}; impsy-run, impsy-web: {' '.join(still)}; "
        f"impsy-train {'listed' if UNIT in failed else 'not listed'} as failed",
    )

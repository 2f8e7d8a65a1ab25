"""Helpers for the web UI tests: a WSGI client that needs no network, a fake model check, a fake link."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote_to_bytes, urlencode, urlsplit

from impsy.channels.udp import osc_message
from impsy.web.link import Link

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO / "configs" / "default.toml"

CONFIG_4D = """\
title = "test"
log_predictions = false

[interaction]
mode = "callresponse"   # who plays when
threshold = 0.1
input_thru = false

[model]
dimension = 4
file = ""
size = "s"
sigmatemp = 0.01
pitemp = 1
timescale = 1

[osc]
server_ip = "127.0.0.1"
server_port = 6000
client_ip = "127.0.0.1"
client_port = 6001

[webui]
monitor_port = 4001
command_port = 4002
"""

CONFIG_4D_MIDI = CONFIG_4D.replace(
    "[webui]",
    """[midi]
in_device = ["S-1"]
out_device = []
input."S-1" = [["control_change", 1, 1], ["control_change", 1, 2], ["control_change", 1, 3]]

[webui]""",
)


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body)

    @property
    def location(self) -> str | None:
        location = self.header("Location")
        return (
            urlsplit(location).path + (f"?{urlsplit(location).query}" if urlsplit(location).query else "")
            if location
            else None
        )


@dataclass
class Client:
    """A browser stand-in: keeps cookies, fills in the CSRF token, calls the WSGI app directly."""

    app: object
    host: str = "127.0.0.1:4000"
    cookies: dict[str, str] = field(default_factory=dict)
    remote: str = "127.0.0.1"  # the address the request comes from

    def environ(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> dict:
        parts = urlsplit(path)
        environ = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(parts.path).decode("latin1"),
            "QUERY_STRING": parts.query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "4000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.remote,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "HTTP_HOST": self.host,
        }
        if body or method == "POST":
            environ["CONTENT_LENGTH"] = str(len(body))
        if self.cookies:
            environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value
            else:
                environ["HTTP_" + key] = value
        return environ

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> Response:
        captured = {}

        def start_response(status, response_headers, exc_info=None):
            captured["status"] = int(status.split()[0])
            captured["headers"] = response_headers

        result = self.app(self.environ(method, path, body, headers or {}), start_response)
        try:
            data = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        response = Response(captured["status"], captured["headers"], data)
        self._keep_cookies(response)
        return response

    def stream(self, path: str, headers: dict | None = None):
        """(status, headers, iterator of chunks) for a streaming GET; close the iterator when done."""
        captured = {}

        def start_response(status, response_headers, exc_info=None):
            captured["status"] = int(status.split()[0])
            captured["headers"] = response_headers

        result = self.app(self.environ("GET", path, b"", headers or {}), start_response)
        return captured["status"], captured["headers"], result

    def _keep_cookies(self, response: Response) -> None:
        for key, value in response.headers:
            if key.lower() != "set-cookie":
                continue
            name, _, rest = value.partition("=")
            cookie_value = rest.split(";", 1)[0]
            if "max-age=0" in value.lower() or "expires=thu, 01 jan 1970" in value.lower():
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = cookie_value

    def get(self, path: str, headers: dict | None = None) -> Response:
        return self.request("GET", path, headers=headers)

    def token(self) -> str:
        """The CSRF token of this client's session, as a page or the API hands it out."""
        response = self.get("/api/csrf")
        if response.status == 200:
            return response.json()["token"]
        page = self.get("/login").text  # logged out: the login form's token
        return re.search(r'<meta name="csrf-token" content="([^"]+)">', page)[1]

    def post(self, path: str, data: dict | None = None, csrf: bool | str = True, headers=None) -> Response:
        """A form post, as a browser sends it (with the page's CSRF token unless csrf=False)."""
        fields = dict(data or {})
        if csrf is True:
            fields.setdefault("csrf", self.token())
        elif isinstance(csrf, str):
            fields["csrf"] = csrf
        body = urlencode(fields, doseq=True).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self.request("POST", path, body, headers)

    def upload(self, path: str, body: bytes, csrf: bool | str = True, headers=None) -> Response:
        """A raw-body upload, as the pages' upload buttons and impsy-train push send it."""
        headers = {"Content-Type": "application/octet-stream", **(headers or {})}
        if csrf is True:
            headers.setdefault("X-CSRF-Token", self.token())
        elif isinstance(csrf, str):
            headers["X-CSRF-Token"] = csrf
        return self.request("POST", path, body, headers)


def fake_checker(paths: list[Path]) -> list[dict]:
    """Stands in for the model check: files that start with b'MODEL dim=N' are models of dimension N."""
    results = []
    for path in paths:
        data = Path(path).read_bytes()
        match = re.match(rb"MODEL dim=(\d+)", data)
        if match:
            dimension = int(match[1])
            results.append(
                {
                    "dimension": dimension,
                    "units": 64,
                    "layers": 2,
                    "mixtures": 5,
                    "size": "s",
                    "layout": "impsy",
                    "ms_per_step": 0.5,
                }
            )
        else:
            results.append({"error": "not a usable .tflite model (fake check)"})
    return results


class FakeLink(Link):
    """The real Link without sockets: commands are recorded and `impsy run`'s answer is simulated."""

    def __init__(self) -> None:
        super().__init__(4001, 4002)
        self.sent: list[tuple[str, object]] = []
        self.answering = True
        self.state = {
            "mode": "callresponse",
            "paused": False,
            "playing": False,
            "sigmatemp": 0.01,
            "pitemp": 1.0,
            "timescale": 1.0,
            "model": {"file": "", "dimension": 4, "size": None, "layout": "dummy"},
            "version": "test",
        }

    def start(self) -> None:  # no socket
        pass

    def send(self, name: str, value: object) -> None:
        self.sent.append((name, value))
        if not self.answering:
            return
        if name == "mode":
            self.state["mode"] = value
        elif name == "pause":
            self.state["paused"] = bool(value)
        elif name in ("sigmatemp", "pitemp", "timescale"):
            self.state[name] = value
        self.report()

    def report(self) -> None:
        self.receive(osc_message("/monitor/state", [json.dumps(self.state)]))

    def reconfigure(self, monitor_port: int, command_port: int) -> None:
        self.monitor_port, self.command_port = monitor_port, command_port

    def stop(self) -> None:
        self._stopping = True
        with self._cond:
            self._cond.notify_all()


def run_in_thread(target, *args):
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


# ---- Real processes: `impsy webui` (python -m impsy.web until the lead wires it) and `impsy run` -----


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def webui_command() -> list[str]:
    """`impsy webui` once impsy.cli has it, else `python -m impsy.web` (the same options)."""
    import contextlib

    from impsy.cli import build_parser

    try:
        with contextlib.redirect_stderr(io.StringIO()):
            build_parser().parse_args(["webui"])
    except SystemExit:
        return [sys.executable, "-m", "impsy.web"]
    return [sys.executable, "-m", "impsy", "webui"]


def wait_until_serving(process: subprocess.Popen, port: int, deadline: float = 60.0) -> None:
    """Block until the server accepts connections (or fail with what it printed)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise AssertionError(f"the web UI exited with {process.returncode}: {process.stdout.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the web UI did not start listening")


def served_folder(root: Path) -> Path:
    """A working folder with CONFIG_4D on UDP ports of its own, for a real `impsy webui`."""
    for name in ("logs", "datasets", "models"):
        (root / name).mkdir(parents=True)
    ports = {p: str(free_port(socket.SOCK_DGRAM)) for p in ("4001", "4002", "6000")}
    text = CONFIG_4D
    for old, new in ports.items():
        text = text.replace(old, new)
    (root / "config.toml").write_text(text)
    return root


def start_webui(workdir: Path, port: int, *args: str, env: dict | None = None) -> subprocess.Popen:
    process = subprocess.Popen(
        [*webui_command(), "--host", "127.0.0.1", "--port", str(port), "--workdir", str(workdir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    wait_until_serving(process, port)
    return process


def stop(process: subprocess.Popen) -> str:
    """SIGTERM, then what the process printed."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.stdout.read() if process.stdout else ""


# Prints what `impsy-train train|finetune ... --progress json` prints and writes what it writes.
# Run as `python FAKE_TRAINER MODE ARGUMENTS...`; MODE: ok, slow, wait, fail, memory, refused.
FAKE_TRAINER = textwrap.dedent(
    """
    import json, signal, sys, time
    from pathlib import Path
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as impsy-train does
    mode, args = sys.argv[1], sys.argv[2:]
    out = Path(args[args.index("--models") + 1])
    stem = "musicMDRNN-dim4-layers2-units64-mixtures5-scale10"

    def save():
        out.mkdir(parents=True, exist_ok=True)
        files = {"tflite": ".tflite", "report": ".report.json", "plot": ".loss.svg"}
        dimension = args[args.index("-D") + 1] if "-D" in args else "4"
        for suffix in files.values():  # the fake model check takes "MODEL dim=N" for a model
            (out / (stem + suffix)).write_text(f"MODEL dim={dimension} trained {suffix}")
        print(json.dumps({"saved": {k: stem + v for k, v in files.items()}}), flush=True)

    def fail(message, code):
        print("impsy-train: error: " + message, file=sys.stderr, flush=True)
        sys.exit(code)

    if mode == "refused":
        fail("nothing improved on tonight's held-out playing (2.500): no model saved", 1)
    print("training (Ctrl-C stops and keeps the best epoch so far)", flush=True)
    try:
        for epoch in (1, 2, 3):
            loss, val = 3 - epoch / 2, 3.5 - epoch / 4
            progress = {"epoch": epoch, "epochs": 3, "loss": loss, "val_loss": val,
                        "best_epoch": epoch, "seconds": 0.1 * epoch, "eta": 0.1 * (3 - epoch)}
            print(json.dumps({"progress": progress}), flush=True)
            if mode == "wait" and epoch == 1:
                print("waiting", flush=True)
                time.sleep(60)
            if mode == "slow":
                time.sleep(0.7)
        if mode == "fail":
            print("Traceback: something broke", flush=True)
            sys.exit(1)
        if mode == "memory":
            fail("out of memory (Unable to allocate 281. KiB): try a smaller size or fewer logs", 3)
    except KeyboardInterrupt:
        save()
        print("interrupted after 1 epochs", flush=True)
        sys.exit(0)
    if args[0] == "finetune":
        print("  tonight's held-out playing: 2.500 before, 2.250 after", flush=True)
    save()
    print("completed after 3 epochs", flush=True)
    """
)


# Stands in for `systemctl --no-ask-password` and impsy-train.service: run as
# `python FAKE_SYSTEMCTL STATE_DIR COMMAND UNIT [--property=...]`. STATE_DIR/unit.json says how
# the unit runs: {"trainer": [python, FAKE_TRAINER, mode], "args_file", "output_file",
# "memory_max", "oom": kill it as the kernel would past MemoryMax}. Every call is appended to
# STATE_DIR/calls; the unit's state is STATE_DIR/state.json.
FAKE_SYSTEMCTL = textwrap.dedent(
    """
    import json, os, signal, subprocess, sys, time
    from pathlib import Path
    state_dir, command, unit = Path(sys.argv[1]), sys.argv[2], sys.argv[-1]
    setup = json.loads((state_dir / "unit.json").read_text())
    state_file = state_dir / "state.json"
    with open(state_dir / "calls", "a") as calls:
        calls.write(" ".join(sys.argv[2:]) + "\\n")

    def state():
        return json.loads(state_file.read_text()) if state_file.exists() else {"ActiveState": "inactive"}

    def save(**values):
        tmp = state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({**state(), **values}))
        os.replace(tmp, state_file)

    if command == "show":
        now = {"Result": "success", "ExecMainCode": "0", "ExecMainStatus": "0", **state(),
               "MemoryMax": setup.get("memory_max", "314572800")}
        for arg in sys.argv[3:]:
            if arg.startswith("--property="):
                key = arg.split("=", 1)[1]
                print(f"{key}={now.get(key, '')}")
    elif command == "start":
        save(ActiveState="active", Result="success", ExecMainCode="0", ExecMainStatus="0")
        service = [sys.executable, __file__, str(state_dir), "_service", unit]
        quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.Popen(service, start_new_session=True, **quiet)  # detached, as systemd runs it
        while "MainPID" not in state():
            time.sleep(0.02)
    elif command == "_service":  # what systemd does: run it, append its output, note how it ended
        args = Path(setup["args_file"]).read_text().splitlines()
        with open(setup["output_file"], "a") as out:
            trainer = subprocess.Popen(setup["trainer"] + args, stdout=out, stderr=subprocess.STDOUT)
        save(MainPID=trainer.pid)
        if setup.get("oom"):
            time.sleep(0.3)
            trainer.kill()
        code = trainer.wait()
        if setup.get("oom"):
            save(ActiveState="failed", Result="oom-kill", ExecMainCode="2", ExecMainStatus="9")
        elif code == 0:
            save(ActiveState="inactive", Result="success", ExecMainCode="1", ExecMainStatus="0")
        else:
            save(ActiveState="failed", Result="exit-code", ExecMainCode="1", ExecMainStatus=str(code))
    elif command == "kill":
        os.kill(state()["MainPID"], signal.SIGINT)
    elif command == "reset-failed":
        if state().get("ActiveState") == "failed":
            save(ActiveState="inactive")
    else:
        sys.exit(f"fake systemctl: {command} is not faked")
    """
)

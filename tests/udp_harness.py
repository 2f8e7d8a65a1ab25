"""A real `impsy run` process with real UDP sockets around it, for tests and benchmarks."""

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from pythonosc.osc_message import OscMessage

from impsy.channels.udp import osc_message

WAIT = 20.0  # generous: CI machines can be slow to start Python
MODELS = Path(__file__).resolve().parents[1] / "models"
MODEL_9D = MODELS / "musicMDRNN-dim9-layers2-units64-mixtures10-scale10.tflite"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kernel_drops(port: int) -> int:
    """Datagrams the kernel dropped (receive buffer full) for the UDP socket bound to this port."""
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            return int(fields[-1])
    raise AssertionError(f"no UDP socket on port {port}")


class Listener:
    """A UDP socket that collects OSC messages."""

    def __init__(self, port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]

    def next(self, address: str, timeout: float = WAIT) -> list:
        """The arguments of the next message with this address."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                message = OscMessage(self.sock.recv(65536))
            except TimeoutError:
                break
            if message.address == address:
                return list(message.params)
        raise AssertionError(f"no {address} within {timeout} s")

    def drain(self) -> None:
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(65536)
        except BlockingIOError:
            pass
        self.sock.setblocking(True)


class Impsy:
    """A running `impsy run` with its OSC client, monitor and command ports on free ports."""

    def __init__(
        self,
        workdir: Path,
        mode: str = "polyphony",
        timescale: float = 0.001,
        wait: bool = True,
        verbose: bool = False,
        stderr: IO | int = subprocess.STDOUT,
        model: Path | str = MODEL_9D,
    ) -> None:
        self.client = Listener()  # plays the part of Pure Data: receives /impsy
        self.monitor = Listener()  # plays the part of the web UI: receives /monitor/*
        self.osc_port, self.command_port = free_udp_port(), free_udp_port()
        config = workdir / "config.toml"
        config.write_text(
            f"""
verbose = {str(verbose).lower()}
[interaction]
mode = "{mode}"
threshold = 0.1
[model]
dimension = 9
file = "{model}"
sigmatemp = 0.01
pitemp = 1
timescale = {timescale}
[osc]
server_ip = "127.0.0.1"
server_port = {self.osc_port}
client_ip = "127.0.0.1"
client_port = {self.client.port}
[webui]
monitor_port = {self.monitor.port}
command_port = {self.command_port}
"""
        )
        self.sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "impsy", "run", "-c", str(config)],
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        self.logs = workdir / "logs"
        if wait:
            self.state()  # it reports its state once it listens

    def send(self, address: str, *args, port: int | None = None) -> None:
        self.sender.sendto(osc_message(address, args), ("127.0.0.1", port or self.osc_port))

    def state(self) -> dict:
        return json.loads(self.monitor.next("/monitor/state")[0])

    def stop(self) -> str:
        self.process.terminate()
        try:
            out, _ = self.process.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()  # a hung run fails its test, and is not left behind
            self.process.communicate()
            raise
        return out

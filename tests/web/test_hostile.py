"""A real `impsy webui` process under a hostile network: stalled and many clients, and a flood
of password guesses. It must keep answering its musician and stay under 100 MB."""

from __future__ import annotations

import base64
import http.client
import re
import socket
import threading
import time
from pathlib import Path

import pytest
from web.helpers import free_port, served_folder, start_webui, stop

from impsy.web.httpserver import HEAD_TIMEOUT
from impsy.web.passwords import write_password_hash

pytestmark = pytest.mark.slow
MEMORY_LIMIT_KB = 100 * 1024


def memory_kb(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    return {key: int(re.search(rf"{key}:\s+(\d+) kB", status)[1]) for key in ("VmHWM", "VmRSS")}


@pytest.fixture
def webui(tmp_path):
    root = served_folder(tmp_path / "impsy")
    write_password_hash(root / ".webui" / "password", "sesame")
    port = free_port()
    process = start_webui(root, port)
    yield port, process
    print(stop(process)[-2000:])


def get(port: int, path: str, headers: dict | None = None, timeout: float = 5.0) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_it_answers_promptly_while_100_connections_stall(webui):
    port, _ = webui
    stalled = []
    for n in range(100):
        sock = socket.create_connection(("127.0.0.1", port))
        if n % 2:  # half a request; the other half send nothing at all
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        stalled.append(sock)
    time.sleep(0.5)
    try:
        for _ in range(3):
            started = time.monotonic()
            response = get(port, "/login", timeout=5.0)
            assert response.status == 200
            assert time.monotonic() - started < 1.0
        # None is held forever: each is closed once its head is overdue.
        deadline = time.monotonic() + HEAD_TIMEOUT + 5
        for sock in stalled:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            assert sock.recv(1024) == b""
    finally:
        for sock in stalled:
            sock.close()


def test_idle_monitor_streams_do_not_lock_the_musician_out(webui):
    port, _ = webui
    basic = {"Authorization": "Basic " + base64.b64encode(b"impsy:sesame").decode()}
    idle = []
    for _ in range(16):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/monitor/stream?vectors=0", headers=basic)
        assert connection.getresponse().status == 200  # and then never read
        idle.append(connection)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/monitor/stream?vectors=0", headers=basic)
        response = connection.getresponse()
        assert response.status == 200
        assert b"event: status" in response.read1(4096) + response.read1(4096)
        connection.close()
        assert get(port, "/api/status", basic).status == 200
    finally:
        for connection in idle:
            connection.close()


def test_a_flood_of_wrong_passwords_stays_under_100_mb(webui):
    port, process = webui
    before = memory_kb(process.pid)
    answers: list[int] = []

    def guess(n: int) -> None:
        for k in range(4):
            headers = {
                "Authorization": "Basic " + base64.b64encode(f"impsy:guess{n}-{k}".encode()).decode(),
                "X-Forwarded-For": f"10.{n}.{k}.1",
            }
            try:
                answers.append(get(port, "/api/status", headers, timeout=30).status)
            except OSError:
                answers.append(0)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after = memory_kb(process.pid)
    print(f"web UI memory: before {before}, after {after} (kB)")
    assert set(answers) <= {401, 429, 503}, answers
    assert answers.count(401) <= 5  # one peer: five wrong passwords, however it names itself
    assert after["VmHWM"] < MEMORY_LIMIT_KB, after
    assert get(
        port, "/api/status", {"Authorization": "Basic " + base64.b64encode(b"x:sesame").decode()}
    ).status in (
        200,
        429,
    )

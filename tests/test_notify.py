"""impsy.notify against a real AF_UNIX datagram socket, as systemd provides it."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from impsy.notify import notify, watchdog_period


def _receiver(address):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(2)
    return sock


def test_unset_socket_is_a_noop(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False


def test_path_socket_receives_messages(tmp_path, monkeypatch):
    path = tmp_path / "notify.sock"
    with _receiver(str(path)) as sock:
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        assert notify("READY=1") is True
        assert notify("WATCHDOG=1") is True
        assert notify("STOPPING=1") is True
        assert [sock.recv(4096) for _ in range(3)] == [b"READY=1", b"WATCHDOG=1", b"STOPPING=1"]


def test_abstract_socket(monkeypatch):
    name = f"impsy-test-{uuid.uuid4().hex}"
    with _receiver(b"\0" + name.encode()) as sock:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify("STATUS=listening on 6000") is True
        assert sock.recv(4096) == b"STATUS=listening on 6000"


def test_missing_socket_returns_false(tmp_path, monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone.sock"))
    assert notify("READY=1") is False


def test_unsupported_address_returns_false(monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    assert notify("READY=1") is False


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        ("20000000", None, 10.0),
        ("20000000", "self", 10.0),
        ("20000000", "other", None),
        ("0", None, None),
        ("nonsense", None, None),
        (None, None, None),
    ],
)
def test_watchdog_period(monkeypatch, usec, pid, expected):
    for name, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", pid)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            if value == "self":
                value = str(os.getpid())
            elif value == "other":
                value = str(os.getpid() + 1)
            monkeypatch.setenv(name, value)
    assert watchdog_period() == expected

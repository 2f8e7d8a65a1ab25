"""`impsy webui` as a real process: threads, systemd readiness, passwords, options, restart."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from web.helpers import CONFIG_4D, free_port, start_webui, stop, webui_command

from impsy.web.options import SYSTEMD_RESTART, add_arguments, default_restart_command
from impsy.web.server import restart_command


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "impsy"
    for name in ("logs", "datasets", "models"):
        (root / name).mkdir(parents=True)
    monitor, command = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)
    (root / "config.toml").write_text(
        CONFIG_4D.replace("4001", str(monitor))
        .replace("4002", str(command))
        .replace("6000", str(free_port()))
    )
    return root


def test_a_live_stream_does_not_block_other_pages(folder):
    port = free_port()
    process = start_webui(folder, port)
    try:
        streams = [
            urllib.request.urlopen(f"http://127.0.0.1:{port}/monitor/stream", timeout=10) for _ in range(3)
        ]
        for stream in streams:
            assert stream.readline() == b"retry: 2000\n"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=10) as response:
            status = json.loads(response.read())
        assert status["config"]["valid"] is True
        for stream in streams:
            stream.close()
    finally:
        output = stop(process)
    assert process.returncode == 0, output


def test_it_tells_systemd_when_it_is_ready_and_stopping(folder, tmp_path):
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(address)
        systemd.settimeout(60)
        port = free_port()
        process = start_webui(folder, port, env={"NOTIFY_SOCKET": address})
        try:
            assert systemd.recv(100) == b"READY=1"
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass  # it listened before it said so
        finally:
            output = stop(process)
        assert systemd.recv(100) == b"STOPPING=1"
    assert process.returncode == 0, output


def test_it_says_which_port_it_serves_and_where_it_listens_for_impsy_run(folder):
    port = free_port()
    process = start_webui(folder, port)
    output = stop(process)
    monitor = re.search(r"monitor_port = (\d+)", (folder / "config.toml").read_text())[1]
    assert f"IMPSY web UI on http://127.0.0.1:{port} (folder {folder})" in output
    assert f"listening for `impsy run` on 127.0.0.1:{monitor}" in output


def run_webui(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([*webui_command(), *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_a_missing_folder_is_a_clear_error(tmp_path):
    done = run_webui("--workdir", str(tmp_path / "nowhere"))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"impsy webui: error: {tmp_path / 'nowhere'}: no such folder "
        f"(make one with `impsy init {tmp_path / 'nowhere'}`)"
    )


def test_a_taken_port_is_a_clear_error(folder):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_webui("--workdir", str(folder), "--host", "127.0.0.1", "--port", str(port))
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        == f"impsy webui: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    )


def test_setting_and_clearing_the_password(folder):
    done = run_webui("--workdir", str(folder), "--set-password", stdin="sesame\n")
    assert done.returncode == 0, done.stderr
    stored = (folder / ".webui" / "password").read_text()
    assert stored.startswith("scrypt$") and "sesame" not in stored
    assert "password set" in done.stdout
    done = run_webui("--workdir", str(folder), "--clear-password")
    assert done.returncode == 0
    assert not (folder / ".webui" / "password").exists()
    assert run_webui("--workdir", str(folder), "--clear-password").stdout.strip() == "there was no password"


def test_a_short_password_is_refused(folder):
    done = run_webui("--workdir", str(folder), "--set-password", stdin="abc\n")
    assert done.returncode == 1
    assert done.stderr.strip() == "impsy webui: use at least 4 characters; nothing changed"
    assert not (folder / ".webui" / "password").exists()


def test_a_password_file_can_live_elsewhere(folder, tmp_path):
    where = tmp_path / "secrets" / "webui-password"
    assert (
        run_webui(
            "--workdir", str(folder), "--password-file", str(where), "--set-password", stdin="sesame\n"
        ).returncode
        == 0
    )
    assert where.read_text().startswith("scrypt$")
    port = free_port()
    process = start_webui(folder, port, "--password-file", str(where))
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=10)
        assert refused.value.code == 401
    finally:
        stop(process)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_the_options_and_their_defaults():
    args = parse()
    assert (args.host, args.port, args.workdir, args.restart_command) == ("0.0.0.0", 4000, Path("."), None)
    assert (args.set_password, args.clear_password, args.password_file, args.allow_host) == (
        False,
        False,
        None,
        [],
    )
    args = parse(
        "--port", "8080", "--workdir", "/srv/impsy", "--allow-host", "a.lan", "--allow-host", "b.lan"
    )
    assert (args.port, args.workdir, args.allow_host) == (8080, Path("/srv/impsy"), ["a.lan", "b.lan"])
    with pytest.raises(SystemExit):
        parse("--set-password", "--clear-password")


def test_the_restart_command_defaults_to_systemd_only_under_systemd(monkeypatch):
    monkeypatch.delenv("INVOCATION_ID", raising=False)
    assert default_restart_command() == ""
    assert restart_command(parse()) == []
    monkeypatch.setenv("INVOCATION_ID", "0123456789abcdef")
    assert default_restart_command() == SYSTEMD_RESTART
    assert restart_command(parse()) == ["systemctl", "--no-ask-password", "restart", "impsy-run.service"]
    assert restart_command(parse("--restart-command", "")) == []
    assert restart_command(parse("--restart-command", "sudo /usr/bin/systemctl restart impsy-run")) == [
        "sudo",
        "/usr/bin/systemctl",
        "restart",
        "impsy-run",
    ]


def test_the_options_module_stays_light():
    code = (
        "import sys, argparse\n"
        "from impsy.web.options import add_arguments\n"
        "add_arguments(argparse.ArgumentParser())\n"
        "heavy = ('bottle', 'numpy', 'impsy.web.app', 'impsy.config', 'pythonosc')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# ---- The Restart action ---------------------------------------------------------------------------------


def test_restart_runs_the_command(make_ui, tmp_path):
    marker = tmp_path / "restarted"
    _, client = make_ui(restart_command=[sys.executable, "-c", f"open({str(marker)!r}, 'w').write('yes')"])
    response = client.post("/restart")
    assert response.status == 303 and response.location == "/"
    assert marker.read_text() == "yes"
    assert "Restarting IMPSY: the dashboard shows it running again in a few seconds." in client.get("/").text


def test_a_failing_restart_says_why(make_ui):
    command = [
        sys.executable,
        "-c",
        "import sys; sys.exit('Failed to restart impsy-run.service: Access denied')",
    ]
    _, client = make_ui(restart_command=command)
    response = client.post("/api/restart")
    assert response.status == 500
    assert response.json() == {
        "error": f"`{shlex.join(command)}` failed: Failed to restart impsy-run.service: Access denied"
    }


def test_restart_without_a_command_says_how_by_hand(client, workdir):
    response = client.post("/api/restart")
    assert response.status == 409
    assert response.json() == {
        "error": "this web UI has no restart command: stop `impsy run` (Ctrl-C in its terminal) and start it "
        f"again with `impsy run --config {workdir.config}`"
    }


def test_a_restart_command_that_does_not_exist_is_reported(make_ui):
    _, client = make_ui(restart_command=["/nonexistent/systemctl", "restart"])
    response = client.post("/api/restart")
    assert response.status == 500
    assert response.json()["error"].startswith("`/nonexistent/systemctl restart` could not be run: ")

"""`impsy-train pull` and `impsy-train push` against a real `impsy webui` process."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from conftest import gesture, write_log
from impsy_train.remote import NeedPassword, Remote, RemoteError, pull, push
from web.helpers import free_port, served_folder, start_webui, stop

from impsy.web.passwords import write_password_hash


@pytest.fixture
def instrument(tmp_path: Path):
    """A working folder with two logs, served by a real web UI; yields (url, folder, marker of restarts)."""
    root = served_folder(tmp_path / "instrument")
    for hour in (10, 11):
        write_log(root / "logs", 4, datetime(2026, 1, 31, hour), [gesture(30, 3)])
    marker = tmp_path / "restarted"
    port = free_port()
    restart = f"{sys.executable} -c \"open('{marker}', 'a').write('x')\""
    process = start_webui(root, port, "--restart-command", restart)
    yield f"http://127.0.0.1:{port}", root, marker
    stop(process)


def train_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "impsy_train.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_pull_fetches_the_logs_not_here_yet(instrument, tmp_path):
    url, root, _ = instrument
    dest = tmp_path / "laptop" / "logs"
    out = io.StringIO()
    fetched, kept = pull(Remote(url), dest, out)
    names = sorted(p.name for p in (root / "logs").iterdir())
    assert sorted(fetched) == names and kept == []
    for name in names:
        assert (dest / name).read_bytes() == (root / "logs" / name).read_bytes()
    write_log(root / "logs", 4, datetime(2026, 2, 1, 9), [gesture(10, 3)])
    fetched, kept = pull(Remote(url), dest, io.StringIO())
    assert fetched == ["2026-02-01T09-00-00-4d-mdrnn.log"] and sorted(kept) == names
    assert not list(dest.glob(".*"))


def test_pull_is_one_command(instrument, tmp_path):
    url, _, _ = instrument
    done = train_cli("pull", url, "--dest", str(tmp_path / "logs"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"2 new logs in {tmp_path / 'logs'}/"
    again = train_cli("pull", url, "--dest", str(tmp_path / "logs"))
    assert again.stdout.splitlines()[-1] == f"0 new logs in {tmp_path / 'logs'}/ (2 already here)"


@pytest.mark.slow
def test_push_uploads_checks_and_activates_a_model(instrument, tiny_model, tmp_path):
    url, root, marker = instrument
    model = tmp_path / tiny_model["tflite"].name
    shutil.copy(tiny_model["tflite"], model)
    done = train_cli("push", str(model), url, "--restart")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"Uploaded models/{model.name}: dimension 4, size xxs, ")
    assert lines[0].endswith(" ms per prediction. It is now the active model: restart IMPSY to play it.")
    assert lines[1] == "Restarting IMPSY: the dashboard shows it running again in a few seconds."
    assert (root / "models" / model.name).read_bytes() == model.read_bytes()
    assert f'file = "models/{model.name}"' in (root / "config.toml").read_text()
    assert marker.read_text() == "x"
    again = train_cli("push", str(model), url)  # pushing a retrained model again replaces it
    assert again.returncode == 0, again.stderr


def test_push_refuses_what_is_not_a_tflite_before_sending(instrument, tmp_path):
    url, _, _ = instrument
    keras = tmp_path / "m.keras"
    keras.write_bytes(b"x")
    with pytest.raises(RemoteError, match=r"the instrument plays \.tflite models; send m\.tflite"):
        push(Remote(url), keras, out=io.StringIO())
    with pytest.raises(RemoteError, match="no such file"):
        push(Remote(url), tmp_path / "missing.tflite", out=io.StringIO())


def test_push_of_a_broken_model_is_refused_by_the_instrument(instrument, tmp_path):
    url, root, _ = instrument
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model at all")
    done = train_cli("push", str(bad), url)
    assert done.returncode == 1
    assert done.stderr.strip().startswith(
        f"impsy-train: error: {url} refused (422): bad.tflite was not accepted: "
        "not a .tflite model: the file is damaged"
    )
    assert not (root / "models" / "bad.tflite").exists()


def test_an_unreachable_instrument_is_a_clear_error(tmp_path):
    port = free_port()
    done = train_cli("pull", f"http://127.0.0.1:{port}", "--dest", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"impsy-train: error: cannot reach http://127.0.0.1:{port} ([Errno 111] Connection refused); is the "
        "instrument plugged in and started? If .local names do not work on this computer, use "
        "http://169.254.1.1:4000"
    )


def test_a_password_protected_instrument(instrument, tmp_path):
    url, root, _ = instrument
    write_password_hash(root / ".webui" / "password", "sesame")
    with pytest.raises(NeedPassword):
        pull(Remote(url), tmp_path / "a", io.StringIO())
    fetched, _ = pull(Remote(url, "sesame"), tmp_path / "b", io.StringIO())
    assert len(fetched) == 2
    wrong = train_cli("pull", url, "--dest", str(tmp_path / "c"), env={"IMPSY_WEBUI_PASSWORD": "open"})
    assert wrong.returncode == 1
    assert wrong.stderr.strip() == (
        f"impsy-train: error: {url} needs its web UI password (the one given was wrong): type it when asked, "
        "or set $IMPSY_WEBUI_PASSWORD"
    )
    right = train_cli("pull", url, "--dest", str(tmp_path / "d"), env={"IMPSY_WEBUI_PASSWORD": "sesame"})
    assert right.returncode == 0, right.stderr


def test_after_too_many_wrong_passwords_the_right_one_is_told_to_wait(instrument, tmp_path):
    url, root, _ = instrument
    write_password_hash(root / ".webui" / "password", "sesame")
    for _ in range(5):
        with pytest.raises(NeedPassword):
            pull(Remote(url, "open"), tmp_path / "a", io.StringIO())
    with pytest.raises(RemoteError, match=r"refused \(429\): too many wrong passwords: wait a minute"):
        pull(Remote(url, "sesame"), tmp_path / "b", io.StringIO())


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:4000", "http://exa mple", "http://"])
def test_what_is_not_a_web_address_is_refused_at_once(url):
    with pytest.raises(RemoteError, match=r"not a web address such as http://impsypi\.local:4000"):
        Remote(url)


def test_a_server_that_is_not_impsy_is_a_clear_error(tmp_path):
    import http.server
    import threading

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html>a router's page</html>" if self.path == "/api/logs" else b'{"other": 1}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        remote = Remote(f"http://127.0.0.1:{server.server_port}")
        for ask in (remote.logs, remote.token):  # HTML, then JSON without the key
            with pytest.raises(RemoteError, match="answered, but not as IMPSY's web UI does"):
                ask()
    finally:
        server.shutdown()


def test_pull_push_and_dataset_never_import_tensorflow(instrument, tmp_path):
    url, _, _ = instrument
    code = (
        "import sys\n"
        "from impsy_train.cli import main\n"
        f"main(['pull', {url!r}, '--dest', {str(tmp_path)!r}])\n"
        f"main(['dataset', '--logs', {str(tmp_path)!r}, '--out', {str(tmp_path / 'datasets')!r}])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines()[-1] == "[]", done.stderr

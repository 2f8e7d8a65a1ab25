"""Files reached through symlinks: nothing under .webui/, and nothing a link leads out of its
listed folder to, is ever served, listed or backed up."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

LOG = "2026-01-31T20-15-00-4d-mdrnn.log"
SECRET_TEXT = "0123456789abcdef" * 4


@pytest.fixture
def secret(workdir) -> Path:
    """The web UI's secret key (it made it at start); its text is what must never leak."""
    path = workdir.state / "secret"
    assert path.is_file()
    return path


def link(path: Path, target: Path) -> Path:
    path.symlink_to(target)
    return path


# (a link in the working folder, where it points to): every case that must stay hidden.
CASES = {
    "log to the secret": ("logs/" + LOG, ".webui/secret"),
    "log to the model cache": ("logs/" + LOG, ".webui/models.json"),
    "log to the config": ("logs/" + LOG, "config.toml"),
    "dataset to the secret": ("datasets/d.npz", ".webui/secret"),
    "model to the secret": ("models/m.tflite", ".webui/secret"),
    "model plot to the secret": ("models/m.loss.png", ".webui/secret"),
    "config to the secret": ("config.toml.previous", ".webui/secret"),
}


@pytest.fixture(params=list(CASES))
def planted(request, workdir, secret) -> tuple[str, bytes | None]:
    """A link planted in the working folder; returns its name and the bytes it leads to."""
    name, target = CASES[request.param]
    (workdir.state / "models.json").write_text("{}")
    if name == "models/m.loss.png":
        (workdir.root / "models" / "m.tflite").write_bytes(b"MODEL dim=4")
    path = workdir.root / name
    path.unlink(missing_ok=True)
    link(path, workdir.root / target)
    # Its bytes: the secret key is rewritten to known text so a leak is easy to spot.
    secret.write_text(SECRET_TEXT)
    # What must not leak: the web UI's own file; a link to the config must only not be a log.
    return name, (workdir.root / target).read_bytes() if target.startswith(".webui/") else None


def zip_names_and_bytes(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def test_a_planted_link_is_never_served(client, planted):
    name, leaked = planted
    folder, _, file = name.rpartition("/")
    if folder:
        for path in (f"/{folder}/{file}", f"/api/{folder}/{file}"):
            response = client.get(path)
            assert response.status in (400, 403, 404), path
            assert leaked is None or leaked not in response.body
        if file.endswith(".loss.png"):
            response = client.get("/models/m.tflite/plot")
            assert response.status in (403, 404)
            assert leaked not in response.body
        listed = client.get(f"/api/{folder}").json()[folder]
        assert file not in [item["name"] for item in listed]


def test_a_planted_link_is_never_backed_up(client, planted):
    name, leaked = planted
    for path in ("/backup/download", "/logs/all.zip"):
        response = client.get(path)
        assert response.status == 200
        members = zip_names_and_bytes(response.body)
        assert name not in members, path
        assert leaked is None or all(leaked not in data for data in members.values()), path
    assert SECRET_TEXT.encode() not in client.get("/backup/download").body


def test_links_that_stay_in_their_folder_still_work(client, workdir):
    real = workdir.root / "logs" / "2026-01-31T20-16-00-4d-mdrnn.log"
    real.write_text("2026-01-31T20:16:00.000000,interface,0.1,0.2,0.3\n")
    link(workdir.root / "logs" / LOG, real)
    assert client.get(f"/logs/{LOG}").status == 200
    assert f"logs/{LOG}" in zip_names_and_bytes(client.get("/logs/all.zip").body)

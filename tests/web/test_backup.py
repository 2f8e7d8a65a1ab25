"""Backup: the whole working folder as one .zip, streamed; restore checks everything before it moves."""

from __future__ import annotations

import io
import re
import stat
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from conftest import gesture, write_log
from web.helpers import CONFIG_4D

from impsy.dataset import Dataset
from impsy.web.settings import Limits

LOG = "2026-01-31T20-15-00-4d-mdrnn.log"
WHAT = (
    "is not something a backup holds "
    "(config.toml, logs/*.log, datasets/*.npz, models/*.tflite and their reports)"
)


def fill(workdir) -> None:
    write_log(workdir.folder("log"), 4, datetime(2026, 1, 31, 20, 15, 0), [gesture(30, 3)])
    Dataset(4, np.zeros((5, 4), np.float32), np.array([0]), ["a"]).save(
        workdir.folder("dataset") / "training-dataset-4d.npz"
    )
    (workdir.folder("model") / "m.tflite").write_bytes(b"MODEL dim=4")
    (workdir.folder("model") / "m.loss.png").write_bytes(b"\x89PNG")
    workdir.previous_config.write_text(CONFIG_4D.replace("0.1", "0.2"))


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".webui" not in p.parts
    }


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_backup_holds_the_config_and_every_folder(client, workdir):
    fill(workdir)
    (workdir.folder("model") / ".upload-123.part").write_bytes(b"half")
    (workdir.state / "notes.json").write_text("{}")  # the web UI's own files stay out
    response = client.get("/backup/download")
    assert response.status == 200
    assert response.header("Content-Type") == "application/zip"
    assert re.fullmatch(
        r'attachment; filename="impsy-backup-[\w-]+-\d{4}-\d\d-\d\d-\d{4}\.zip"',
        response.header("Content-Disposition"),
    )
    with zipfile.ZipFile(io.BytesIO(response.body)) as archive:
        assert archive.testzip() is None
        contents = {name: archive.read(name) for name in archive.namelist()}
    expected = {k: v for k, v in snapshot(workdir.root).items() if ".upload-" not in k}
    assert contents == expected
    assert sorted(contents) == [
        "config.toml",
        "config.toml.previous",
        "datasets/training-dataset-4d.npz",
        f"logs/{LOG}",
        "models/m.loss.png",
        "models/m.tflite",
    ]


def test_a_backup_leaves_out_symlinks_that_point_outside(client, workdir, tmp_path):
    outside = tmp_path / "secret.log"
    outside.write_text("x")
    (workdir.folder("log") / LOG).symlink_to(outside)
    with zipfile.ZipFile(io.BytesIO(client.get("/backup/download").body)) as archive:
        assert archive.namelist() == ["config.toml"]


def test_a_backup_restores_into_another_instrument(make_ui, workdir, client, tmp_path):
    fill(workdir)
    backup = client.get("/backup/download").body
    before = snapshot(workdir.root)
    for path in list(workdir.root.rglob("*")):
        if path.is_file() and ".webui" not in path.parts:
            path.unlink()
    workdir.config.write_text("# an old config\n" + CONFIG_4D)
    response = client.upload("/api/backup/restore", backup)
    assert response.status == 200, response.text
    body = response.json()
    assert body["message"] == "Restored 6 files (1 replaced). Restart IMPSY to use them."
    assert body["replaced"] == ["config.toml"]
    assert snapshot(workdir.root) == before
    assert not (workdir.state / "restore").exists()


def test_restoring_keeps_the_replaced_config_as_the_previous_one(client, workdir):
    old = "# mine\n" + CONFIG_4D
    workdir.config.write_text(old)
    response = client.upload("/api/backup/restore", zip_of({"config.toml": CONFIG_4D.encode()}))
    assert response.status == 200
    assert workdir.config.read_text() == CONFIG_4D
    assert workdir.previous_config.read_text() == old


def symlink_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(f"logs/{LOG}")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def pickled_dataset(marker: Path) -> bytes:
    class Trap:
        def __reduce__(self):
            return (Path.touch, (marker,))

    perfs = np.empty(1, dtype=object)
    perfs[0] = Trap()
    buffer = io.BytesIO()
    np.savez(buffer, perfs=perfs)
    return buffer.getvalue()


def bad_crc_zip() -> bytes:
    data = bytearray(zip_of({f"logs/{LOG}": b"2026-01-31T20:15:00,interface,0.1,0.2,0.3\n"}))
    at = data.index(b"2026-01-31T20:15:00")
    data[at] ^= 0x01
    return bytes(data)


@pytest.mark.parametrize(
    "archive, message",
    [
        (b"not a zip", "not a .zip archive (File is not a zip file)"),
        (zip_of({}), "the archive is empty"),
        (zip_of({"../evil.log": b"x"}), f"'../evil.log' {WHAT}"),
        (zip_of({"/etc/cron.d/x": b"x"}), f"'/etc/cron.d/x' {WHAT}"),
        (zip_of({"logs/../../x.log": b"x"}), f"'logs/../../x.log' {WHAT}"),
        (zip_of({".webui/password": b"x"}), f"'.webui/password' {WHAT}"),
        (zip_of({"notes.txt": b"x"}), f"'notes.txt' {WHAT}"),
        (symlink_zip(), f"logs/{LOG}: symbolic links are not restored"),
        (
            zip_of({"config.toml": CONFIG_4D.replace('"callresponse"', '"jazz"').encode()}),
            "config.toml in the archive is not valid: config.toml: interaction.mode: expected one of "
            "callresponse, polyphony, battle, useronly; found 'jazz'",
        ),
        (zip_of({"config.toml": b"\xff\xfe"}), "config.toml: not UTF-8 text"),
        (
            zip_of({"models/bad.tflite": b"junk"}),
            "models/bad.tflite: not a usable .tflite model (fake check)",
        ),
        (zip_of({"datasets/x.npz": b"junk"}), "datasets/x.npz: not a dataset file (File is not a zip file)"),
        (bad_crc_zip(), f"logs/{LOG}: cannot be read from the archive (Bad CRC-32 for file 'logs/{LOG}')"),
    ],
)
def test_a_bad_backup_restores_nothing(client, workdir, archive, message):
    fill(workdir)
    before = snapshot(workdir.root)
    response = client.upload("/api/backup/restore", archive)
    assert response.status == 422
    assert response.json() == {"error": f"Nothing was restored: {message}"}
    assert snapshot(workdir.root) == before
    assert not (workdir.state / "restore").exists()
    assert not list(workdir.state.glob(".upload-*"))


def test_a_backup_with_a_pickled_dataset_is_refused_without_unpickling(client, workdir, tmp_path):
    marker = tmp_path / "unpickled"
    response = client.upload(
        "/api/backup/restore",
        zip_of({"config.toml": CONFIG_4D.encode(), "datasets/old.npz": pickled_dataset(marker)}),
    )
    assert response.status == 422
    assert response.json()["error"].startswith(
        "Nothing was restored: datasets/old.npz: this is an original IMPSY dataset, stored with pickle"
    )
    assert not marker.exists()
    assert not (workdir.folder("dataset") / "old.npz").exists()


def test_a_zip_bomb_is_refused_before_it_is_unpacked(make_ui, workdir):
    _, client = make_ui(limits=Limits(unpacked=1000))
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"logs/{LOG}", b"0" * 100_000)
    assert len(bomb.getvalue()) < 1000
    response = client.upload("/api/backup/restore", bomb.getvalue())
    assert response.status == 422
    assert response.json() == {
        "error": "Nothing was restored: the archive would unpack to 97.7 KB, more than the 1000 bytes allowed"
    }
    assert not (workdir.folder("log") / LOG).exists()


def test_a_restore_that_would_fill_the_card_is_refused(client, workdir, monkeypatch):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr(f"logs/{LOG}", b"0" * 100_000)
    monkeypatch.setattr(type(workdir), "disk_free", lambda self: 20 * 2**20 + 50_000)
    response = client.upload("/api/backup/restore", archive.getvalue())
    assert response.status == 422
    assert response.json() == {
        "error": "Nothing was restored: the archive would unpack to 97.7 KB and 20.0 MB is free "
        "(delete old logs or datasets first)"
    }
    assert not (workdir.folder("log") / LOG).exists()


def test_a_duplicate_member_is_refused(client, workdir):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.toml", CONFIG_4D)
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("config.toml", "x = 1")
    response = client.upload("/api/backup/restore", buffer.getvalue())
    assert response.json() == {"error": "Nothing was restored: config.toml: appears twice in the archive"}
    assert workdir.config.read_text() == CONFIG_4D


def test_a_backup_holds_only_what_a_restore_takes_back(client, workdir):
    fill(workdir)
    (workdir.folder("log") / "notes.txt").write_text("my notes")
    (workdir.folder("model") / "my old model.tflite").write_bytes(b"MODEL dim=4")
    backup = client.get("/backup/download").body
    with zipfile.ZipFile(io.BytesIO(backup)) as archive:
        assert "logs/notes.txt" not in archive.namelist()
        assert "models/my old model.tflite" not in archive.namelist()
    assert client.upload("/api/backup/restore", backup).status == 200  # and it restores
    assert "notes.txt" not in client.get("/backup").text


def test_a_restore_never_replaces_the_log_impsy_run_is_recording(ui, client, workdir):
    fill(workdir)
    ui.link.state["log"] = f"logs/{LOG}"
    ui.link.report()
    before = snapshot(workdir.root)
    response = client.upload("/api/backup/restore", zip_of({f"logs/{LOG}": b"older rows\n"}))
    assert response.status == 422
    assert response.json() == {
        "error": f"Nothing was restored: logs/{LOG}: IMPSY is recording it now; stop IMPSY first"
    }
    assert snapshot(workdir.root) == before


def test_a_restore_keeps_the_active_model_and_its_config_in_step(client, workdir):
    fill(workdir)
    workdir.config.write_text(CONFIG_4D.replace('file = ""', 'file = "models/m.tflite"'))
    before = snapshot(workdir.root)
    response = client.upload("/api/backup/restore", zip_of({"models/m.tflite": b"MODEL dim=9"}))
    assert response.status == 422
    assert response.json() == {
        "error": "Nothing was restored: models/m.tflite is the model config.toml plays as 4d, "
        "and the archive's is 9d"
    }
    assert snapshot(workdir.root) == before
    # With the archive's own config playing it as 9d, the pair is consistent: restored.
    config_9d = CONFIG_4D.replace("dimension = 4", "dimension = 9").replace(
        'file = ""', 'file = "models/m.tflite"'
    )
    archive = zip_of({"models/m.tflite": b"MODEL dim=9", "config.toml": config_9d.encode()})
    assert client.upload("/api/backup/restore", archive).status == 200


def test_a_restore_checks_the_previous_config_too(client, workdir):
    fill(workdir)
    before = snapshot(workdir.root)
    response = client.upload("/api/backup/restore", zip_of({"config.toml.previous": b"[[[ not valid"}))
    assert response.status == 422
    assert response.json()["error"].startswith(
        "Nothing was restored: config.toml.previous in the archive is not valid"
    )
    assert snapshot(workdir.root) == before

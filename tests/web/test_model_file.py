"""A config may name only a model in the working folder's models/ (or none): never any other file.

The rule lives in one place (configtext.check_text), so Save, Check, Go back and a restore from
a backup all refuse the same configs with the same message naming the key.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from web.helpers import CONFIG_4D

KEY = "[model] file"
BAD = (
    "/etc/passwd",
    "/srv/impsy/models/m.tflite",
    "../m.tflite",
    "models/../../etc/passwd.tflite",
    "models/sub/m.tflite",
    "models/.hidden.tflite",
    "models/m.h5",
    "models/m.keras",
    "m.tflite",
    "models/",
)
GOOD = ("", "models/m.tflite", "models/musicMDRNN-dim4-layers2-units64-mixtures5-scale10.tflite")


def with_file(file: str) -> str:
    return CONFIG_4D.replace('file = ""', f"file = {json.dumps(file)}")


def zip_with_config(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.toml", text)
    return buffer.getvalue()


@pytest.mark.parametrize("file", BAD)
def test_save_refuses_a_model_file_outside_models(client, workdir, file):
    before = workdir.config.read_text()
    response = client.post(
        "/config", {"text": with_file(file), "action": "save"}, headers={"Accept": "application/json"}
    )
    assert response.status == 422
    assert any(KEY in problem for problem in response.json()["problems"])
    assert workdir.config.read_text() == before


@pytest.mark.parametrize("file", BAD)
def test_restore_refuses_a_model_file_outside_models(client, workdir, file):
    before = workdir.config.read_text()
    response = client.upload("/api/backup/restore", zip_with_config(with_file(file)))
    assert response.status == 422
    assert KEY in response.json()["error"]
    assert workdir.config.read_text() == before


def test_go_back_refuses_a_previous_config_naming_another_file(client, workdir):
    workdir.previous_config.write_text(with_file("/etc/passwd"))
    before = workdir.config.read_text()
    response = client.post("/config/previous", headers={"Accept": "application/json"})
    assert response.status == 422
    assert workdir.config.read_text() == before


@pytest.mark.parametrize("file", GOOD)
def test_a_model_in_models_or_none_is_accepted(client, workdir, file):
    if file:  # a model that is there (one that is not is refused: test_config_page.py)
        (workdir.root / file).parent.mkdir(exist_ok=True)
        (workdir.root / file).write_bytes(b"\0" * 64)
    response = client.post(
        "/config", {"text": with_file(file), "action": "save"}, headers={"Accept": "application/json"}
    )
    assert response.status == 200, response.text
    assert workdir.config.read_text() == with_file(file)

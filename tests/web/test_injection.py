"""Stored script injection: markup in every field of every kind of upload is shown as text.

Each upload (log, dataset, model and its report, backup, config) carries markup in every field a
user or a file can set; then every page that could show it is read and must hold no live markup.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
from conftest import gesture, write_log
from web.helpers import CONFIG_4D_MIDI

from impsy.dataset import Dataset

VIEWS = Path(__file__).resolve().parents[2] / "impsy" / "web" / "views"
MARKUP = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "'><svg onload=alert(3)>",
)
HOSTILE = " ".join(MARKUP)
LOG = "2026-01-31T20-15-00-4d-mdrnn.log"


class LiveMarkup(HTMLParser):
    """Collects what a browser would run: event handlers, scripts not ours, embedding tags."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag in ("img", "svg", "iframe", "object", "embed", "base"):
            self.found.append(f"<{tag}>")
        if tag == "script" and not (dict(attrs).get("src") or "").startswith("/static/"):
            self.found.append("<script> not from /static/")


def live_markup(html: str) -> list[str]:
    parser = LiveMarkup()
    parser.feed(html)
    return parser.found


def hostile_config() -> str:
    """A valid config with markup in every string a user sets: title, device names, hosts."""
    text = CONFIG_4D_MIDI.replace('title = "test"', f"title = {json.dumps(HOSTILE)}")
    return text.replace('"S-1"', json.dumps("S-1 " + HOSTILE))


def hostile_dataset(tmp_path: Path) -> bytes:
    dataset = Dataset(
        4,
        np.zeros((5, 4), np.float32),
        np.array([0]),
        [HOSTILE],
        {"created": HOSTILE, "max_gap": HOSTILE, HOSTILE: HOSTILE},
    )
    return dataset.save(tmp_path / "hostile.npz").read_bytes()


def hostile_report() -> bytes:
    return json.dumps({"name": HOSTILE, "dataset": HOSTILE, "history": {HOSTILE: [HOSTILE]}}).encode()


def hostile_backup(tmp_path: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.toml", hostile_config())
        archive.writestr("config.toml.previous", hostile_config())
        archive.writestr("datasets/from-backup.npz", hostile_dataset(tmp_path))
        archive.writestr("models/from-backup.tflite", b"MODEL dim=4 " + HOSTILE.encode())
        archive.writestr("models/from-backup.report.json", hostile_report())
    return buffer.getvalue()


def pages(client) -> list[str]:
    """Every page that shows what was uploaded (and the lists, confirmations and editors)."""
    fixed = [
        "/",
        "/monitor",
        "/commands",
        "/config",
        "/config?previous=1",
        "/config/wizard",
        "/config/examples",
        "/logs",
        "/datasets",
        "/models",
        "/training",
        "/backup",
        "/restart",
        "/no-such-page",
    ]
    files = [
        f"/{folder}/{item['name']}/delete"
        for folder in ("logs", "datasets", "models")
        for item in client.get(f"/api/{folder}").json()[folder]
    ]
    return fixed + files


def test_markup_in_every_upload_is_shown_as_text_on_every_page(client, workdir, tmp_path):
    log = write_log(workdir.folder("log"), 4, datetime(2026, 1, 31, 20, 15, 0), [gesture(20, 3)])
    text = log.read_text() + f"{HOSTILE},interface,{HOSTILE}\n"
    assert client.upload(f"/api/logs?name={LOG.replace('20-15', '21-15')}", text.encode()).status == 200
    assert client.upload("/api/datasets?name=hostile.npz", hostile_dataset(tmp_path)).status == 200
    model = client.upload("/api/models?name=hostile.tflite", b"MODEL dim=4 " + HOSTILE.encode())
    assert model.status == 200
    (workdir.folder("model") / "hostile.report.json").write_bytes(hostile_report())
    restored = client.upload("/api/backup/restore", hostile_backup(tmp_path))
    assert restored.status == 200, restored.text
    # An invalid config with markup in its values: the editor shows it with its problems.
    invalid = hostile_config().replace('mode = "callresponse"', f"mode = {json.dumps(HOSTILE)}")
    shown = client.post("/config", {"text": invalid, "action": "save"})
    assert shown.status == 422
    assert live_markup(shown.text) == []
    saved = client.post("/config", {"text": hostile_config(), "action": "save"})
    assert saved.status in (200, 303), saved.text

    checked = 0
    for path in pages(client):
        response = client.get(path)
        assert live_markup(response.text) == [], path
        assert "<script>alert" not in response.text, path
        checked += 1
    assert checked >= 20
    # The dataset's metadata reached the Datasets page, as text.
    assert "built &lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/datasets").text


def test_templates_never_print_unescaped_values():
    """`{{!...}}` prints raw HTML: only the layout's page body may use it."""
    raw = {
        f"{path.name}: {match}"
        for path in VIEWS.glob("*.tpl")
        for match in re.findall(r"\{\{!.*?\}\}", path.read_text())
    }
    assert raw == {"layout.tpl: {{!base}}"}

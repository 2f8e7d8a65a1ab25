"""Fixtures for the web UI: a working folder, the app and a client (helpers live in web/helpers.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from web.helpers import CONFIG_4D, DEFAULT_CONFIG, Client, FakeLink, fake_checker

from impsy.web.app import create_app
from impsy.web.paths import Workdir
from impsy.web.settings import Limits, Settings


@pytest.fixture
def workdir(tmp_path: Path) -> Workdir:
    root = tmp_path / "impsy"
    for name in ("logs", "datasets", "models"):
        (root / name).mkdir(parents=True)
    (root / "config.toml").write_text(CONFIG_4D)
    return Workdir.at(root)


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    folder = tmp_path / "examples"
    folder.mkdir()
    shutil.copy(DEFAULT_CONFIG, folder / "default.toml")
    (folder / "broken.toml").write_text('[interaction]\nmode = "callresponce"\n')
    return folder


@pytest.fixture
def make_ui(workdir: Workdir, examples: Path):
    """make_ui(**settings) -> (ui, client); the link is a FakeLink unless one is given."""
    made = []

    def make(link=None, **overrides):
        values = {
            "workdir": workdir,
            "example_folders": [examples],
            "check_models": fake_checker,
            "training": False,
            "limits": Limits(),
            **overrides,
        }
        settings = Settings(**values)
        ui = create_app(settings, link or FakeLink())
        made.append(ui)
        return ui, Client(ui.app)

    yield make
    for ui in made:
        ui.link.stop()


@pytest.fixture
def ui_client(make_ui):
    return make_ui()


@pytest.fixture
def client(ui_client) -> Client:
    return ui_client[1]


@pytest.fixture
def ui(ui_client):
    return ui_client[0]

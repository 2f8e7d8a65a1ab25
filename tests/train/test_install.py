"""`pip install ./train` never brings TensorFlow (the original IMPSY's most-reported problem)."""

import json
import subprocess
import sys
import tomllib
from importlib.metadata import requires, version

import pytest
from conftest import REPO
from packaging.requirements import Requirement

from impsy import __version__

FORBIDDEN = {"tensorflow", "tensorflow-cpu", "tf-keras", "tf-nightly", "keras", "torch", "jax"}


def closure(name: str, seen: set[str] | None = None) -> set[str]:
    """Every distribution an installed distribution depends on (extras not asked for left out)."""
    seen = set() if seen is None else seen
    for line in requires(name) or []:
        requirement = Requirement(line)
        key = requirement.name.lower().replace("_", "-")
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        if key not in seen:
            seen.add(key)
            closure(key, seen)
    return seen


def test_the_installed_trainer_depends_on_no_framework():
    assert not closure("impsy-train") & FORBIDDEN


def test_the_trainer_pins_exactly_this_runtime():
    """An unpinned "impsy" would resolve to PyPI's original IMPSY, and TensorFlow with it."""
    project = tomllib.loads((REPO / "train" / "pyproject.toml").read_text())["project"]
    assert f"impsy=={__version__}" in project["dependencies"]
    assert version("impsy-train") == __version__


@pytest.mark.slow
def test_pip_would_install_no_framework(tmp_path):
    """What pip resolves for a fresh environment, asking the package index (not this venv)."""
    report = tmp_path / "report.json"
    subprocess.run(
        # The venv's own setuptools builds the two local projects' metadata (an isolated build
        # would first download setuptools twice); their dependencies still come from the index.
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-build-isolation",
         "--quiet", "--disable-pip-version-check", "--report", str(report), str(REPO), str(REPO / "train")],
        check=True, timeout=300,
    )  # fmt: skip
    names = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}
    assert {"impsy", "impsy-train", "numpy", "flatbuffers"} <= names
    assert not names & FORBIDDEN, names & FORBIDDEN

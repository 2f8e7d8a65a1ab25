"""The image's per-board boot config: image/stage-impsy/01-usb-gadget/00-run.sh applied to
pi-gen's own config.txt, read back the way the Pi firmware reads its [filter] sections."""

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STEP = ROOT / "image" / "stage-impsy" / "01-usb-gadget" / "00-run.sh"
PIGEN = Path(__file__).resolve().parent / "data" / "pi-gen"

# Which model filters each board sees (raspberrypi/documentation, config.txt, "Model filters").
BOARDS = {
    "3B": {"pi3"},
    "3B+": {"pi3", "pi3+"},
    "3A+": {"pi3", "pi3+"},
    "Zero 2 W": {"pi0", "pi0w", "pi02"},
    "4B": {"pi4"},
    "400": {"pi4", "pi400"},
    "5": {"pi5"},
    "500": {"pi5", "pi500"},
}
MODEL_FILTERS = {"pi0", "pi0w", "pi02", "pi1", "pi2", "pi3", "pi3+", "pi4", "pi400", "cm4", "cm4s"}
MODEL_FILTERS |= {"pi5", "pi500", "cm5"}
USB = re.compile(r"dwc|otg|usb", re.IGNORECASE)

OTG = "dtoverlay=dwc2,dr_mode=otg"
GADGET = "dtoverlay=dwc2,dr_mode=peripheral"


def settings_for(config: str, board: str) -> list[str]:
    """The lines a board applies. Filters of other kinds (EDID, GPIO, serial number, board-type)
    count as true, so a USB line behind one of them is never missed."""
    sees = BOARDS[board]
    model: str | None = None  # None: no model filter since the last [all]
    enabled = True
    applied = []
    for raw in config.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("include"), f"follow includes to check them: {line}"
        if section := re.fullmatch(r"\[(.+)\]", line):
            name = section[1].lower()
            if name == "all":
                model, enabled = None, True
            elif name == "none":
                enabled = False
            elif name in MODEL_FILTERS:
                model = name  # filters of one kind replace each other
            continue
        if enabled and (model is None or model in sees):
            applied.append(line)
    return applied


def emitted(tmp_path: Path, release: str) -> str:
    firmware = tmp_path / "boot" / "firmware"
    firmware.mkdir(parents=True)
    (firmware / "config.txt").write_bytes((PIGEN / f"{release}-config.txt").read_bytes())
    for _ in range(2):  # a second run changes nothing
        env = {**os.environ, "ROOTFS_DIR": str(tmp_path)}
        subprocess.run(["bash", str(STEP)], cwd=STEP.parent, env=env, check=True, capture_output=True)
    return (firmware / "config.txt").read_text()


@pytest.mark.parametrize("release", ["bookworm", "trixie"])
def test_each_board_gets_its_usb_mode_and_no_overlay_reaches_a_3b(tmp_path, release):
    config = emitted(tmp_path, release)
    usb = {board: [s for s in settings_for(config, board) if USB.search(s)] for board in BOARDS}
    assert usb == {
        "3B": [],
        "3B+": [],
        "3A+": [],
        "Zero 2 W": [OTG],
        "4B": [GADGET],
        "400": [GADGET],
        "5": [GADGET],
        "500": [GADGET],
    }
    assert config.count("# IMPSY: USB") == 1
    assert config.rstrip().endswith("[all]"), "what is added after us must reach every board"


def test_a_root_without_config_txt_is_left_alone(tmp_path):
    done = subprocess.run(
        ["bash", str(STEP)], cwd=STEP.parent, env={**os.environ, "ROOTFS_DIR": str(tmp_path)},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "not a Raspberry Pi root" in done.stdout and not any(tmp_path.iterdir())

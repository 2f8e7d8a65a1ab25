"""End to end: a real headless Chromium (Debian's), driven by Playwright, against a real `impsy webui`
and a real `impsy run`; and a screenshot of every page at phone and laptop width.

Screenshots go to $IMPSY_SCREENSHOTS, or build/screenshots in the repository.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import urllib.request
from datetime import datetime
from pathlib import Path
from wsgiref.simple_server import make_server

import numpy as np
import pytest
from conftest import gesture, write_log
from web.helpers import FAKE_TRAINER, REPO, fake_checker, free_port, start_webui, stop

from impsy.channels.udp import osc_message
from impsy.dataset import Dataset
from impsy.web.app import create_app
from impsy.web.httpserver import PooledWSGIServer, QuietHandler
from impsy.web.passwords import write_password_hash
from impsy.web.paths import Workdir
from impsy.web.settings import Settings
from impsy.web.trainer import ChildTrainer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
WAIT = 30_000  # ms Playwright waits for something to appear (a wait, never a measurement)
WIDTHS = {"phone": (390, 844), "laptop": (1280, 800)}
SHOTS = Path(os.environ.get("IMPSY_SCREENSHOTS", REPO / "build" / "screenshots"))

CONFIG = """\
title = "Browser test"

[interaction]
mode = "callresponse"
threshold = 0.1
input_thru = false

[model]
dimension = 4
file = ""
size = "s"
sigmatemp = 0.01
pitemp = 1
timescale = 1

[osc]
server_ip = "127.0.0.1"
server_port = {osc}
client_ip = "127.0.0.1"
client_port = {client}

[webui]
monitor_port = {monitor}
command_port = {command}
"""


class Stack:
    """A working folder with `impsy run` and `impsy webui` running on it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for name in ("logs", "datasets", "models"):
            (root / name).mkdir(parents=True)
        udp = socket.SOCK_DGRAM
        self.osc_port, self.command_port = free_port(udp), free_port(udp)
        self.config_text = CONFIG.format(
            osc=self.osc_port, client=free_port(udp), monitor=free_port(udp), command=self.command_port
        )
        (root / "config.toml").write_text(self.config_text)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.web = start_webui(root, self.port)
        self.run = subprocess.Popen(
            [sys.executable, "-m", "impsy", "run", "--config", "config.toml", "--logs", "logs"],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._run_output: list[str] = []
        threading.Thread(target=self._read_run, daemon=True).start()
        self.wait_until(lambda s: s["run"]["alive"], "impsy run to report to the web UI")

    def _read_run(self) -> None:
        for line in self.run.stdout:
            self._run_output.append(line)

    @property
    def run_output(self) -> str:
        return "".join(self._run_output)

    def status(self) -> dict:
        with urllib.request.urlopen(self.url + "/api/status", timeout=10) as response:
            return json.loads(response.read())

    def wait_until(self, check, what: str, attempts: int = 600) -> dict:
        """Poll the status API until check(status) holds (an event to wait for, not a timing test)."""
        for _ in range(attempts):
            status = self.status()
            if check(status):
                return status
            if self.run.poll() is not None:
                raise AssertionError(f"impsy run exited: {self.run_output}")
            threading.Event().wait(0.1)
        raise AssertionError(f"gave up waiting for {what}; last status {status}")

    def set_mode(self, mode: str) -> None:
        """Put `impsy run` in a mode over its command port, and wait until it reports it."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(osc_message("/impsy/mode", [mode]), ("127.0.0.1", self.command_port))
        self.wait_until(lambda s: (s["run"]["state"] or {}).get("mode") == mode, f"mode {mode}")

    def play(self, *values: float) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(osc_message("/interface", list(values)), ("127.0.0.1", self.osc_port))

    def close(self) -> None:
        if self.run.poll() is None:
            self.run.terminate()
            self.run.wait(30)
        stop(self.web)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    made = Stack(tmp_path_factory.mktemp("e2e") / "impsy")
    yield made
    made.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Chromium is not installed: run tests/install-browser.sh (or deselect with -m 'not browser')"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    """A laptop-sized page that fails the test on any request leaving this machine or any JS error."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT)
    problems: list[str] = []
    context, opened = open_page(browser, problems)
    yield opened
    context.close()
    assert problems == []


def open_page(browser, problems: list[str], width: int = 1280, height: int = 800):
    """(context, page): a new page of this size whose problems (see `watch`) go to `problems`."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    watch(page, problems)
    return context, page


def watch(page, problems: list[str]) -> None:
    page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
    page.on(
        "request",
        lambda request: (
            problems.append(f"request left the machine: {request.url}")
            if not re.match(r"^(http://127\.0\.0\.1:\d+/|data:|about:)", request.url)
            else None
        ),
    )


# ---- The four journeys of the issue ------------------------------------------------------------------


def test_edit_and_save_a_config_and_be_refused_an_invalid_one(stack, page):
    from playwright.sync_api import expect

    page.goto(stack.url + "/config")
    editor = page.locator("#config-text")
    text = editor.input_value()
    assert text == stack.config_text
    editor.fill(text.replace("threshold = 0.1", "threshold = 0.3"))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved config.toml (the previous version is kept).")
    assert "threshold = 0.3" in (stack.root / "config.toml").read_text()
    assert (stack.root / "config.toml.previous").read_text() == stack.config_text

    saved = (stack.root / "config.toml").read_text()
    page.locator("#config-text").fill(saved.replace('mode = "callresponse"', 'mode = "jazz"'))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Not saved: 1 problem to fix first")
    problem = page.locator(".problems li.error")
    expect(problem).to_contain_text("expected one of callresponse, polyphony, battle, useronly; found 'jazz'")
    assert (stack.root / "config.toml").read_text() == saved
    problem.locator("a[data-line]").click()  # jumps to the line in the editor
    selected = page.evaluate(
        "() => { const t = document.getElementById('config-text');"
        " return t.value.substring(t.selectionStart, t.selectionEnd); }"
    )
    assert selected == 'mode = "jazz"'


def test_the_editor_numbers_colours_and_marks_problems_on_their_lines(stack, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    long_comment = "# " + "a comment far longer than a phone is wide, " * 4
    for size, (width, height) in WIDTHS.items():
        context, page = open_page(browser, problems, width, height)
        page.goto(stack.url + "/config")
        text = page.locator("#config-text").input_value()
        bad = text.replace('mode = "callresponse"', 'mode = "callresponce"').replace(
            "[model]", f"[model]\n{long_comment}"
        )
        page.locator("#config-text").fill(bad)
        page.get_by_role("button", name="Check").click()
        page.locator(".problems li.error").first.wait_for()
        lines = page.locator("[data-editor-lines] .l")
        n = bad.splitlines().index('mode = "callresponce"') + 1
        marked = lines.nth(n - 1)
        assert marked.get_attribute("data-n") == str(n)
        assert "error" in (marked.get_attribute("class") or "")
        assert "did you mean `callresponse`?" in (marked.get_attribute("title") or "")
        assert page.locator("[data-editor-lines] .l.error").count() == 1
        assert lines.count() == len(bad.split("\n"))
        assert lines.nth(0).locator(".t-key").first.text_content() == "title"
        assert page.locator("[data-editor-lines] .t-table").first.text_content() == "[interaction]"
        assert page.locator("[data-editor-lines] .t-comment").count() >= 1
        # The long comment wraps, and the textarea over the lines wraps with it: nothing is cut.
        wrapped = lines.nth(bad.splitlines().index(long_comment)).bounding_box()
        assert wrapped["height"] > 30 and wrapped["x"] + wrapped["width"] <= width
        typed = page.locator("#config-text").bounding_box()
        layer = page.locator("[data-editor-lines]").bounding_box()
        assert abs(typed["height"] - layer["height"]) < 2 and abs(typed["width"] - layer["width"]) < 2
        check_layout(page, "config", width)
        marked.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / f"editor-problem-{size}.png"), full_page=True)
        context.close()
    assert problems == []


def test_upload_a_model_and_make_it_active(stack, page, tiny_model, tmp_path):
    from playwright.sync_api import expect

    model = tmp_path / "workshop-dim4.tflite"
    shutil.copy(tiny_model["tflite"], model)
    page.goto(stack.url + "/models")
    form = page.locator("form[data-upload]")
    form.locator('input[type="file"]').set_input_files(str(model))
    form.get_by_label("Make it the active model").check()
    form.get_by_role("button", name="Upload").click()
    expect(page.locator("main .message.ok")).to_contain_text(
        "Uploaded models/workshop-dim4.tflite: dimension 4, size xxs"
    )
    row = page.locator("tr.active")
    expect(row).to_contain_text("workshop-dim4.tflite")
    expect(row.locator(".pill")).to_have_text("active")
    assert 'file = "models/workshop-dim4.tflite"' in (stack.root / "config.toml").read_text()
    assert (stack.root / "models" / model.name).read_bytes() == model.read_bytes()
    page.goto(stack.url + "/")  # impsy run still plays the dummy model until it is restarted
    expect(page.locator(".message.warning")).to_contain_text(
        "IMPSY is playing the dummy model, but the config names workshop-dim4.tflite"
    )


def test_live_values_arrive_on_the_monitor(stack, page):
    from playwright.sync_api import expect

    stack.set_mode("callresponse")
    page.goto(stack.url + "/monitor")
    controls = page.locator("[data-controls] li")
    expect(controls).to_have_count(3)
    expect(controls.nth(0).locator(".name")).to_have_text("/interface 1")  # named by the config
    expect(page.locator("body")).to_have_attribute("data-stream", "connected")  # the stream is open
    stack.play(0.25, 0.5, 0.75)
    expect(controls.nth(0).locator('[data-value="in"]')).to_have_text("0.250")
    expect(controls.nth(1).locator('[data-value="in"]')).to_have_text("0.500")
    expect(controls.nth(2).locator('[data-value="in"]')).to_have_text("0.750")
    stack.play(0.9, 0.1, 0.4)
    expect(controls.nth(0).locator('[data-value="in"]')).to_have_text("0.900")
    # In callresponse mode IMPSY answers once the performer stops: its output arrives too.
    expect(controls.nth(0).locator('[data-value="out"]')).not_to_have_text("-")
    expect(page.locator('[data-live="alive-text"]')).to_have_text("Running")
    expect(page.locator("[data-next-dt]")).to_have_text(re.compile(r"^(in )?\d+\.\d\d s"))
    expect(page.locator('.mind-line [data-live="state.sigmatemp"]')).to_have_text("0.01")
    distinct = page.evaluate(
        "() => Array.from(document.querySelectorAll('[data-controls] li'), "
        "li => getComputedStyle(li.querySelector('.swatch')).backgroundColor)"
    )
    assert len(set(distinct)) == 3, distinct


def band_pixels(png: bytes, now_x: int, lane: int, ratio: float = 1.0) -> int:
    """Pixels of the first lane's colour (#4fc3f7, blended) in the future part of that lane,
    where nothing but the forecast band is drawn."""
    width, height, pixels = decode_png(png)
    count = 0
    for y in range(4, min(int(lane * ratio) - 4, height)):
        row = pixels[y]
        for x in range(int((now_x + 3) * ratio), width - 3):
            r, g, b = row[x][:3]
            if b > r + 40 and g > r + 20 and b > 60:  # blue-cyan, well above the dark lane
                count += 1
    return count


def decode_png(data: bytes) -> tuple[int, int, list[list[tuple[int, ...]]]]:
    """An 8-bit RGB or RGBA PNG, as Chromium writes them, into rows of pixels."""
    import struct
    import zlib

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw, stride, rows, previous = zlib.decompress(idat), width * channels, [], bytearray(width * channels)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x : x + channels]) for x in range(0, stride, channels)])
        previous = line
    return width, height, rows


def test_the_monitor_draws_what_the_model_expects(stack, browser):
    """The band is checked in a screenshot: pixels of the control's colour where only it is drawn."""
    stack.set_mode("polyphony")  # every input gets a reply, so forecasts keep coming
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for size, (width, height) in WIDTHS.items():
        context, page = open_page(browser, problems, width, height)
        page.goto(stack.url + "/monitor")
        page.locator("body[data-stream=connected]").wait_for()
        for i in range(40):
            stack.play(0.5 + 0.4 * np.sin(i / 6), 0.5 + 0.4 * np.cos(i / 9), i / 40)
            threading.Event().wait(0.02)  # pacing for the picture only; nothing is measured
        page.wait_for_function("() => document.querySelector('[data-next-dt]').textContent !== '-'")
        canvas = page.locator("[data-mind-plot]")
        shot = canvas.screenshot(path=str(SHOTS / f"monitor-band-{size}.png"))
        now_x, lane = int(canvas.get_attribute("data-now-x")), int(canvas.get_attribute("data-lane"))
        assert band_pixels(shot, now_x, lane) > 30, f"no forecast band at {size} width"
        if size == "phone":
            box = canvas.bounding_box()
            assert box["width"] >= width - 60 and lane >= 44, box  # the plot fills a phone's width
        check_layout(page, "monitor", width)
        context.close()
    stack.set_mode("callresponse")
    assert problems == []


def test_a_mode_change_reaches_impsy_run(stack, page):
    from playwright.sync_api import expect

    page.goto(stack.url + "/commands")
    page.get_by_role("button", name="battle", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Mode is now battle.")
    expect(page.locator('[data-state="mode"]')).to_have_text("battle")
    expect(page.get_by_role("button", name="battle", exact=True)).to_have_class("primary")
    assert stack.status()["run"]["state"]["mode"] == "battle"  # as impsy run itself reports it
    assert "control: mode battle" in stack.run_output
    page.get_by_role("button", name="callresponse", exact=True).click()
    expect(page.locator('[data-state="mode"]')).to_have_text("callresponse")


def test_build_a_dataset_with_progress(stack, page):
    from playwright.sync_api import expect

    for hour in (10, 11):
        write_log(stack.root / "logs", 4, datetime(2026, 1, 31, hour), [gesture(60, 3, hour)])
    page.goto(stack.url + "/datasets")
    page.get_by_label("Logs of dimension").select_option("4")
    page.get_by_role("button", name="Build").click()
    # The result shows in the job's box, or (if it ended while the page was open) at the top after a reload.
    expect(page.locator("main")).to_contain_text(re.compile(r"training-dataset-4d\.npz: \d+ performances"))
    expect(page.locator("table.files")).to_contain_text("training-dataset-4d.npz")
    assert (stack.root / "datasets" / "training-dataset-4d.npz").exists()


def test_a_log_is_deleted_only_after_confirming(stack, page):
    from playwright.sync_api import expect

    path = write_log(stack.root / "logs", 4, datetime(2025, 12, 24, 18), [gesture(20, 3)])
    page.goto(stack.url + "/logs")
    page.locator(f'a[href="/logs/{path.name}/delete"]').click()
    expect(page.locator("h1")).to_have_text(f"Delete {path.name}?")
    assert path.exists()
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_have_text(f"Deleted logs/{path.name}.")
    assert not path.exists()


def test_the_performance_lock(stack, page):
    from playwright.sync_api import expect

    page.goto(stack.url + "/commands")
    page.get_by_role("button", name="Lock for the show").click()
    page.goto(stack.url + "/config")
    expect(page.locator(".banner.lock")).to_contain_text("Performance lock is on.")
    expect(page.get_by_role("button", name="Save")).to_be_disabled()
    page.goto(stack.url + "/commands")
    page.get_by_role("button", name="useronly", exact=True).click()
    expect(page.locator('[data-state="mode"]')).to_have_text("useronly")
    page.get_by_role("button", name="Unlock").first.click()
    page.goto(stack.url + "/config")
    expect(page.get_by_role("button", name="Save")).to_be_enabled()
    page.goto(stack.url + "/commands")
    page.get_by_role("button", name="callresponse", exact=True).click()
    expect(page.locator('[data-state="mode"]')).to_have_text("callresponse")


# ---- Screenshots of every page ------------------------------------------------------------------------

PAGES = [
    ("dashboard", "/"),
    ("monitor", "/monitor"),
    ("commands", "/commands"),
    ("config", "/config"),
    ("wizard", "/config/wizard"),
    ("examples", "/config/examples"),
    ("example", "/config/examples/default.toml"),
    ("logs", "/logs"),
    ("datasets", "/datasets"),
    ("models", "/models"),
    ("training-laptop", "/training"),
    ("backup", "/backup"),
    ("restart", "/restart"),
]


def populate(stack: Stack) -> None:
    """Give every page something to show."""
    for hour in (14, 15, 16):
        write_log(stack.root / "logs", 4, datetime(2026, 2, 7, hour), [gesture(200, 3, hour), gesture(90, 3)])
    data = Dataset(4, np.zeros((300, 4), np.float32), np.array([0, 150]), ["a.log", "b.log"])
    data.save(stack.root / "datasets" / "training-dataset-4d.npz")


def check_layout(page, name: str, width: int) -> None:
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= width, f"{name} is {overflow}px wide on a {width}px screen"


def test_screenshots_of_every_page_at_phone_and_laptop_width(stack, browser, tmp_path):
    populate(stack)
    stack.set_mode("callresponse")  # IMPSY answers, so the monitor shows output too
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for size, (width, height) in WIDTHS.items():
        context, page = open_page(browser, problems, width, height)
        for name, path in PAGES:
            page.goto(stack.url + path)
            if name not in ("dashboard", "monitor", "commands"):  # these keep a live stream open
                page.wait_for_load_state("networkidle")
            if name == "monitor":
                page.locator("body[data-stream=connected]").wait_for()
                for i in range(60):  # a gesture over a second or so, so the plot has something to draw
                    stack.play(0.5 + 0.4 * np.sin(i / 6), 0.5 + 0.4 * np.cos(i / 9), i / 60)
                    threading.Event().wait(0.02)  # pacing for the picture only; nothing is measured
                page.wait_for_function("() => document.querySelector('[data-next-dt]').textContent !== '-'")
            check_layout(page, name, width)
            page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=True)
        page.goto(stack.url + "/config")
        text = page.locator("#config-text").input_value()
        page.locator("#config-text").fill(
            re.sub(r"threshold = [\d.]+", "threshold = -1", text).replace("[osc]", "[osc]\nport = 1")
        )
        page.get_by_role("button", name="Check").click()
        page.locator(".problems li").first.wait_for()
        check_layout(page, "config-problems", width)
        page.screenshot(path=str(SHOTS / f"config-problems-{size}.png"), full_page=True)
        log = sorted((stack.root / "logs").glob("*.log"))[-1].name
        page.goto(f"{stack.url}/logs/{log}/delete")
        page.screenshot(path=str(SHOTS / f"confirm-delete-{size}.png"), full_page=True)
        context.close()
    assert problems == []


@pytest.fixture
def serve(tmp_path):
    """serve(**settings) -> (url, ui, folder): the app in this process, for views a stack cannot show."""
    servers = []

    def start(**settings):
        root = tmp_path / f"view{len(servers)}"
        for name in ("logs", "datasets", "models"):
            (root / name).mkdir(parents=True)
        shutil.copy(REPO / "configs" / "default.toml", root / "config.toml")
        ui = create_app(Settings(workdir=Workdir.at(root), check_models=fake_checker, **settings))
        server = make_server(
            "127.0.0.1", 0, ui.app, server_class=PooledWSGIServer, handler_class=QuietHandler
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}", ui, root

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def instrument_view(serve):
    """The pages where impsy-train is not installed and nothing runs."""
    url, _, root = serve(training=False)
    return url, root


def test_screenshots_of_the_instrument_only_pages(browser, instrument_view):
    url, root = instrument_view
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for size, (width, height) in WIDTHS.items():
        context, page = open_page(browser, problems, width, height)
        page.goto(url + "/training")
        assert "impsy-train pull http://127.0.0.1" in page.content()
        check_layout(page, "training-without-impsy-train", width)
        page.screenshot(path=str(SHOTS / f"training-without-impsy-train-{size}.png"), full_page=True)
        page.goto(url + "/")
        page.screenshot(path=str(SHOTS / f"dashboard-not-running-{size}.png"), full_page=True)
        write_password_hash(root / ".webui" / "password", "sesame")
        page.goto(url + "/models")
        assert page.url.startswith(url + "/login")
        check_layout(page, "login", width)
        page.screenshot(path=str(SHOTS / f"login-{size}.png"), full_page=True)
        (root / ".webui" / "password").unlink()
        context.close()
    assert problems == []


def fake_trainer(tmp_path: Path, mode: str) -> ChildTrainer:
    script = tmp_path / "trainer.py"
    script.write_text(FAKE_TRAINER)
    return ChildTrainer(program=[sys.executable, str(script), mode])


@pytest.fixture
def training_view(serve, tmp_path):
    """(url, ui, folder) of a web UI that trains with a stand-in for impsy-train."""
    return serve(training=True, trainer=fake_trainer(tmp_path, "ok"))


def test_the_loss_plot_draws_live_and_make_active_restarts_in_one_click(browser, serve, tmp_path):
    """Epochs arrive one by one (a stand-in trainer that takes its time): the plot grows while
    it runs, the time left shows, and at the end one click makes the model active and restarts."""
    from playwright.sync_api import expect

    restarted = tmp_path / "restarted"
    url, _, root = serve(
        training=True,
        trainer=fake_trainer(tmp_path, "slow"),
        restart_command=[sys.executable, "-c", f"open({str(restarted)!r}, 'w').close()"],
    )
    Dataset(9, np.zeros((500, 9), np.float32), np.array([0, 250]), ["a.log", "b.log"]).save(
        root / "datasets" / "training-dataset-9d.npz"
    )
    problems: list[str] = []
    context, page = open_page(browser, problems)
    expect.set_options(timeout=WAIT)
    page.goto(url + "/training")
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url(re.compile(r"/training\?job=\d+$"))
    plot = page.locator("[data-loss-plot]")
    expect(plot).to_have_attribute("data-epochs-drawn", "1")  # the first epoch, drawn while it runs
    assert page.locator("[data-job]").get_attribute("data-job-state") == "running"
    expect(page.locator("[data-job-eta]")).to_contain_text("left")
    expect(plot).to_have_attribute("data-epochs-drawn", "3")
    done = page.locator("[data-job-done] button")
    expect(done).to_have_text(re.compile(r"^Make musicMDRNN-\S+\.tflite active and restart$"))
    expect(page.locator("[data-job-eta]")).to_have_text("")
    done.click()
    page.wait_for_url(url + "/")
    expect(page.locator("body")).to_contain_text("is now the active model, and IMPSY is restarting")
    config = (root / "config.toml").read_text()
    assert 'file = "models/musicMDRNN-dim4-layers2-units64-mixtures5-scale10.tflite"' in config
    assert restarted.exists()
    context.close()
    assert problems == []


def test_screenshot_of_a_training_run(browser, training_view):
    """Training on a laptop: the epochs and the loss plot of a finished run (a stand-in trainer)."""
    url, _, root = training_view
    data = Dataset(9, np.zeros((500, 9), np.float32), np.array([0, 250]), ["a.log", "b.log"])
    data.save(root / "datasets" / "training-dataset-9d.npz")
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for size, (width, height) in WIDTHS.items():
        context, page = open_page(browser, problems, width, height)
        page.goto(url + "/training")
        page.get_by_role("button", name="Start training").click()
        page.wait_for_url(re.compile(r"/training\?job=\d+$"))  # the new run's page, not the last one's
        page.locator("[data-job-done]").wait_for()  # the run ended and the page says what to do next
        page.wait_for_function(
            "() => document.querySelector('[data-job-output]').textContent.includes('completed')"
        )
        check_layout(page, "training-run", width)
        page.screenshot(path=str(SHOTS / f"training-run-{size}.png"), full_page=True)
        context.close()
    assert problems == []


def test_a_finished_training_run_is_shown_in_full(browser, training_view):
    """Opening the page of a run that has already ended replays its output and plot (no JS errors)."""
    from playwright.sync_api import expect

    url, ui, root = training_view
    Dataset(4, np.zeros((50, 4), np.float32), np.array([0]), ["a.log"]).save(root / "datasets" / "d.npz")
    problems: list[str] = []
    context, page = open_page(browser, problems)
    page.goto(url + "/training")
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    response = page.request.post(url + "/training/start", form={"csrf": token, "dataset": "d.npz"})
    job = ui.jobs.current("training")
    seen = 0
    while job.running or not any(e["type"] == "end" for e in job.events):
        seen = job.wait(seen, 30.0)[-1]["seq"]
    assert response.ok
    page.goto(f"{url}/training?job={job.id}")
    expect(page.locator("[data-job-output]")).to_contain_text("completed after 3 epochs")
    expect(page.locator("[data-job-message]")).to_contain_text("training finished")
    drawn = page.evaluate(
        "() => { const c = document.querySelector('[data-loss-plot]');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " return d.some((v, i) => i % 4 === 3 && v > 0); }"
    )
    assert drawn, "the loss plot is empty"
    context.close()
    assert problems == []

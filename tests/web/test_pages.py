"""Every page renders, marks itself in the navigation, explains its empty state, and needs no internet."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from conftest import gesture, write_log
from web.helpers import CONFIG_4D

from impsy.web.app import STATIC

PAGES = {
    "/": ("dashboard", "Dashboard"),
    "/monitor": ("monitor", "Monitor"),
    "/commands": ("commands", "Commands"),
    "/config": ("config", "Configuration"),
    "/config/wizard": ("config", "Configuration"),
    "/config/examples": ("config", "Configuration"),
    "/config/examples/default.toml": ("config", "Configuration"),
    "/logs": ("logs", "Logs"),
    "/datasets": ("datasets", "Datasets"),
    "/models": ("models", "Models"),
    "/training": ("training", "Training"),
    "/backup": ("backup", "Backup"),
    "/restart": ("restart", "Restart"),
}


def current_nav(html: str) -> str:
    match = re.search(r'<a href="[^"]*" aria-current="page" class="current">(.*?)</a>', html, re.S)
    assert match, "no page is marked as current"
    return re.sub(r"<[^>]+>", " ", match[1]).split()[0]


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_renders_and_marks_itself(client, path):
    response = client.get(path)
    assert response.status == 200
    assert response.header("Content-Type").startswith("text/html")
    assert current_nav(response.text) == PAGES[path][1]
    assert '<meta name="csrf-token"' in response.text


@pytest.mark.parametrize("path", list(PAGES))
def test_no_page_links_anything_outside_the_instrument(client, path):
    html = client.get(path).text
    for attribute in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not re.match(r"^(https?:)?//", attribute), f"{path} loads {attribute} from elsewhere"


def test_static_assets_are_local_and_load_nothing_from_elsewhere(client):
    names = sorted(p.name for p in Path(STATIC).iterdir())
    assert names == ["app.js", "editor.js", "icon.svg", "jobs.js", "lossplot.js", "monitor.js", "style.css"]
    for name in names:
        response = client.get(f"/static/{name}")
        assert response.status == 200
        assert not re.search(
            r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", response.text.replace("http://www.w3.org/2000/svg", "")
        )


def test_static_files_cannot_reach_outside_their_folder(client):
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py"):
        response = client.get(path)
        assert response.status == 403, path
        assert "Access denied." in response.text


def test_the_original_realtime_page_leads_to_the_monitor(client):
    response = client.get("/realtime")
    assert response.status == 301
    assert dict(response.headers)["Location"].endswith("/monitor")


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/nowhere")
    assert response.status == 404
    assert "There is no page at /nowhere." in response.text


def test_dashboard_says_how_to_start_impsy_when_it_is_not_running(client, workdir):
    html = client.get("/").text
    assert "Not running" in html
    assert f"impsy run --config {workdir.root}/config.toml" in html


def test_dashboard_shows_what_impsy_run_reports(ui, client):
    ui.link.report()
    html = client.get("/").text
    assert "running · callresponse" in html
    assert 'data-live="state.mode">callresponse<' in html
    assert 'data-live="state.model.dimension">4<' in html
    assert 'data-live="state.version">test<' in html


def test_dashboard_offers_the_wizard_when_there_is_no_config(client, workdir):
    workdir.config.unlink()
    html = client.get("/").text
    assert "There is no <code>config.toml</code> yet" in html
    assert 'href="/config/wizard"' in html


def test_dashboard_warns_of_an_invalid_config(client, workdir):
    workdir.config.write_text(CONFIG_4D.replace('mode = "callresponse"', 'mode = "callresponce"'))
    html = client.get("/").text
    assert "config.toml has 1 problem: IMPSY cannot start with it." in html


def test_dashboard_asks_for_a_restart_when_the_config_names_another_model(ui, client, workdir):
    (workdir.root / "models" / "new.tflite").write_bytes(b"MODEL dim=4")
    workdir.config.write_text(CONFIG_4D.replace('file = ""', 'file = "models/new.tflite"'))
    ui.link.report()  # impsy run plays the dummy model
    html = client.get("/").text
    assert "IMPSY is playing the dummy model, but the config names new.tflite" in html


def test_empty_states_say_what_to_do_next(client):
    assert "No logs yet. IMPSY writes one each time" in client.get("/logs").text
    assert "There are no logs to build from yet" in client.get("/datasets").text
    assert "No datasets yet: build one from your logs above." in client.get("/datasets").text
    assert "No models yet. Train one from your logs on the" in client.get("/models").text
    assert "Nothing yet. Play your controller, or send /interface over OSC." in client.get("/monitor").text


def test_logs_page_lists_each_log_with_its_figures(client, workdir):
    write_log(workdir.folder("log"), 4, datetime(2026, 1, 31, 20, 15, 0), [gesture(50, 3)], rnn_every=5)
    html = client.get("/logs").text
    assert "2026-01-31 20:15:00" in html
    assert "2026-01-31T20-15-00-4d-mdrnn.log" in html
    assert "50 from you, 10 from IMPSY" in html
    assert '<td data-label="Dimension">4</td>' in html
    assert '<td data-label="Duration">2 s</td>' in html
    assert 'href="/logs/2026-01-31T20-15-00-4d-mdrnn.log"' in html


def test_models_page_marks_the_active_model(client, workdir):
    (workdir.root / "models" / "a.tflite").write_bytes(b"MODEL dim=4")
    (workdir.root / "models" / "b.tflite").write_bytes(b"MODEL dim=9")
    (workdir.root / "models" / "bad.tflite").write_bytes(b"junk")
    workdir.config.write_text(CONFIG_4D.replace('file = ""', 'file = "models/a.tflite"'))
    html = client.get("/models").text
    active_row = re.search(r'<tr class="active">(.*?)</tr>', html, re.S)[1]
    assert "a.tflite" in active_row and '<span class="pill ok">active</span>' in active_row
    assert 'action="/models/b.tflite/activate"' in html
    assert 'action="/models/a.tflite/activate"' not in html  # already active
    assert "not a usable .tflite model (fake check)" in html
    assert 'action="/models/bad.tflite/activate"' not in html


def test_training_page_without_impsy_train_says_how_to_install_it_or_train_elsewhere(client):
    html = client.get("/training", headers={"Host": "impsypi.local:4000"}).text
    assert "pip install -e ./train" in html
    assert "impsy-train pull http://impsypi.local:4000 --dest logs" in html
    assert "impsy-train train -D 4 -M s --earlystopping --logs logs" in html
    assert (
        "impsy-train push models/musicMDRNN-dim4-layers2-units64-mixtures5-scale10.tflite "
        "http://impsypi.local:4000 --restart" in html
    )


def test_restart_page_without_a_command_says_how_to_restart_by_hand(client, workdir):
    html = client.get("/restart").text
    assert "Restart it by hand" in html
    assert f"impsy run --config {workdir.root}/config.toml" in html
    assert "sudo systemctl restart impsy-run.service" in html
    assert 'action="/restart"' not in html


def test_restart_page_with_a_command_has_a_button(make_ui):
    _, client = make_ui(restart_command=["systemctl", "restart", "impsy-run.service"])
    html = client.get("/restart").text
    assert 'action="/restart"' in html
    assert "Runs <code>systemctl restart impsy-run.service</code>." in html


def test_backup_page_counts_what_a_backup_holds(client, workdir):
    (workdir.root / "models" / "a.tflite").write_bytes(b"MODEL dim=4")
    html = client.get("/backup").text
    assert "2 files" in html  # config.toml and the model


def test_examples_page_lists_examples_with_their_check(client):
    html = client.get("/config/examples").text
    assert "default.toml" in html and "mode callresponse · dimension 9 · osc" in html
    assert "broken.toml" in html and "Does not pass the checker" in html
    assert 'href="/config?example=default.toml"' in html


def test_api_status_reports_run_config_and_machine(ui, client):
    ui.link.report()
    status = client.get("/api/status").json()
    assert status["run"]["alive"] is True
    assert status["run"]["state"]["mode"] == "callresponse"
    assert status["config"] == {"exists": True, "valid": True, "errors": [], "model": None, "dimension": 4}
    assert status["locked"] is False
    assert isinstance(status["disk_free"], int)
    assert json.dumps(status)  # plain JSON types only


@pytest.mark.parametrize(
    "method, path, status, message",
    [
        ("GET", "/api/jobs/nope", 404, "there is no job nope"),
        ("GET", "/jobs/nope/stream", 404, "there is no job nope"),
        ("POST", "/config/previous", 404, "there is no previous version of config.toml"),
        ("POST", "/models/none.tflite/activate", 404, "there is no model called 'none.tflite'"),
        ("POST", "/api/models/none.tflite/activate", 404, "there is no model called 'none.tflite'"),
        ("POST", "/models/none.tflite/delete", 404, "there is no model called 'none.tflite'"),
        ("POST", "/datasets/none.npz/delete", 404, "there is no dataset called 'none.npz'"),
        ("POST", "/training/stop", 409, "no training is running"),
    ],
)
def test_actions_on_what_is_not_there_say_so(client, method, path, status, message):
    headers = {"Accept": "application/json"}
    response = client.post(path, headers=headers) if method == "POST" else client.get(path, headers=headers)
    assert (response.status, response.json()) == (status, {"error": message})


def test_a_length_that_is_not_a_number_is_refused(client):
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": "abc",
        "X-CSRF-Token": client.token(),
        "Accept": "application/json",
    }
    response = client.request("POST", "/config", b"text=x", headers)
    assert (response.status, response.json()) == (400, {"error": "Content-Length is not a number"})


def test_a_config_the_disk_will_not_take_is_reported_and_nothing_changes(client, workdir, monkeypatch):
    from impsy.web import pages_config

    def full(path, data, keep_previous=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pages_config, "write_atomically", full)
    before = workdir.config.read_text()
    response = client.post(
        "/config", {"text": before + "# more\n", "action": "save"}, headers={"Accept": "application/json"}
    )
    assert (response.status, response.json()) == (
        507,
        {"error": "config.toml could not be written: No space left on device"},
    )
    assert workdir.config.read_text() == before

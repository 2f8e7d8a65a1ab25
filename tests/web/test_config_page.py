"""The configuration editor: the same checker as `impsy check-config`, nothing invalid ever saved."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from web.helpers import CONFIG_4D, CONFIG_4D_MIDI, REPO

from impsy.config import check_config, format_problems, parse_config
from impsy.config.modelfile import model_file_problems
from impsy.web.configtext import (
    EditError,
    WizardChoices,
    check_text,
    locate,
    model_file_problem,
    set_keys,
    with_model,
    wizard_text,
)

FIXTURES = sorted((REPO / "tests" / "data" / "configs").glob("*.toml"))
BAD_MODE = CONFIG_4D.replace('mode = "callresponse"', 'mode = "callresponce"')


def problems_shown(page: str) -> list[str]:
    items = re.findall(r'<li class="(error|warning)">(.*?)</li>', page, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split()) for _, text in items]


def textarea(page: str) -> str:
    return html.unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", page, re.S)[1])


def test_the_editor_shows_the_config(client):
    page = client.get("/config").text
    assert textarea(page) == CONFIG_4D
    assert "<h2>No problems</h2>" in page


def test_saving_a_valid_config_writes_it_and_keeps_the_previous_one(ui, client, workdir):
    new = CONFIG_4D.replace("threshold = 0.1", "threshold = 0.5").replace("4001", "4101")
    response = client.post("/config", {"text": new, "action": "save"})
    assert response.status == 200
    assert "Saved config.toml (the previous version is kept). Restart IMPSY to use it." in response.text
    assert workdir.config.read_text() == new
    assert workdir.previous_config.read_text() == CONFIG_4D
    assert ui.link.monitor_port == 4101  # the web UI follows the new [webui] ports
    assert not [p for p in workdir.root.iterdir() if p.name.endswith(".tmp")]


def test_an_invalid_config_is_refused_and_nothing_is_written(client, workdir):
    response = client.post("/config", {"text": BAD_MODE, "action": "save"})
    assert response.status == 422
    assert "Not saved: 1 problem to fix first (see Problems)." in response.text
    assert problems_shown(response.text) == [
        "line 5 interaction.mode : expected one of callresponse, polyphony, battle, useronly; "
        "found 'callresponce'; did you mean `callresponse`?"
    ]
    assert 'data-line="5"' in response.text
    assert textarea(response.text) == BAD_MODE  # the user's text is kept for fixing
    assert workdir.config.read_text() == CONFIG_4D
    assert not workdir.previous_config.exists()


def test_a_toml_syntax_error_is_shown_with_its_line(client, workdir):
    text = CONFIG_4D.replace('mode = "callresponse"', "mode = callresponse")
    response = client.post("/config", {"text": text})
    assert response.status == 422
    assert problems_shown(response.text) == [
        "line 5 TOML syntax error: invalid value at column 8 "
        '(if it is text, put it in double quotes: mode = "callresponse")'
    ]
    assert workdir.config.read_text() == CONFIG_4D


def test_every_problem_is_listed_at_once(client):
    text = BAD_MODE.replace("dimension = 4", "dimension = 1").replace("treshold", "x")
    response = client.post("/config", {"text": text})
    assert response.status == 422
    assert "Not saved: 2 problems to fix first" in response.text
    assert len(problems_shown(response.text)) == 2


def test_warnings_do_not_stop_a_save_and_are_shown(client, workdir):
    text = CONFIG_4D.replace("threshold = 0.1", "threshold = 0.1\ntreshold = 0.2")
    response = client.post("/config", {"text": text})
    assert response.status == 200
    assert "Saved config.toml" in response.text and "1 warning (see Problems)." in response.text
    assert problems_shown(response.text) == [
        "line 7 interaction.treshold : unknown key, ignored; did you mean `threshold`?"
    ]
    assert workdir.config.read_text() == text


def test_check_only_never_writes(client, workdir):
    new = CONFIG_4D.replace("threshold = 0.1", "threshold = 0.5")
    response = client.post("/config", {"text": new, "action": "check"})
    assert response.status == 200
    assert "The config is valid: not saved yet." in response.text
    assert workdir.config.read_text() == CONFIG_4D
    response = client.post("/config", {"text": BAD_MODE, "action": "check"})
    assert response.status == 422
    assert "1 problem to fix (see Problems). Nothing was saved." in response.text
    assert workdir.config.read_text() == CONFIG_4D


def test_windows_line_endings_from_the_browser_are_saved_as_unix_ones(client, workdir):
    client.post("/config", {"text": CONFIG_4D.replace("\n", "\r\n")})
    assert workdir.config.read_bytes() == CONFIG_4D.encode()


def test_a_save_without_the_text_field_is_refused(client):
    response = client.post("/config", {"action": "save"})
    assert response.status == 400
    assert "no config text was sent (the form&#039;s text field is missing)" in response.text


def test_config_text_that_is_not_utf8_says_so(client, workdir):
    before = workdir.config.read_bytes()
    body = f"csrf={client.token()}&action=save&text=title%20%3D%20%22caf%E9%22".encode()  # latin-1 é
    response = client.request("POST", "/config", body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 400
    assert "the config text is not UTF-8: save it as UTF-8 and paste it again" in response.text
    assert workdir.config.read_bytes() == before


def test_the_api_answers_problems_as_json(client, workdir):
    response = client.post("/config", {"text": BAD_MODE}, headers={"Accept": "application/json"})
    assert response.status == 422
    assert response.json() == {
        "error": "Not saved: 1 problem to fix first (see Problems).",
        "problems": [
            "config.toml: interaction.mode: expected one of callresponse, polyphony, battle, useronly; "
            "found 'callresponce'; did you mean `callresponse`?"
        ],
    }
    api = client.get("/api/config").json()
    assert api == {"text": CONFIG_4D, "valid": True, "problems": []}


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name)
def test_the_page_uses_the_same_checker_as_check_config(client, workdir, fixture):
    """...plus its one rule of its own: the model must be in models/ (test_model_file.py)."""
    text = fixture.read_text()
    # Without the working folder, check_text does not look for the model file (check-config does).
    expected = [p for p in check_config(fixture) if p.key != "model.file"]
    config, _ = parse_config(text, "config.toml")
    if config is not None and (extra := model_file_problem(config)):
        expected = [extra, *expected]
    _, shown = check_text(text, "config.toml")
    relabelled = format_problems(expected).replace(str(fixture), "config.toml")
    assert "\n".join(p.text for p in shown) == relabelled
    response = client.post("/config", {"text": text, "action": "check"})
    errors = [p for p in expected if p.severity == "error"]
    if config is not None and not errors:  # the page also looks for the file in the working folder
        errors = model_file_problems(config, workdir.root / "config.toml", load=False)
    assert response.status == (422 if errors else 200)


def test_an_example_opens_in_the_editor_unsaved(client, workdir, examples):
    page = client.get("/config?example=default.toml").text
    assert "This is the example default.toml, not yet saved" in page
    assert textarea(page) == (examples / "default.toml").read_text()
    assert workdir.config.read_text() == CONFIG_4D


def test_an_unknown_example_is_a_404(client):
    response = client.get("/config?example=../config.toml")
    assert response.status == 404
    assert "there is no example config called &#039;../config.toml&#039;" in response.text
    assert client.get("/config/examples/nothing.toml").status == 404


def test_an_example_page_shows_its_text_and_problems(client):
    page = client.get("/config/examples/broken.toml").text
    assert "broken.toml: interaction.mode: expected one of" in page
    assert "[interaction]\nmode = &quot;callresponce&quot;" in page


def test_going_back_to_the_previous_version(client, workdir):
    assert client.get("/config?previous=1").status == 404
    new = CONFIG_4D.replace("threshold = 0.1", "threshold = 0.5")
    client.post("/config", {"text": new})
    assert "This is the previous version of config.toml" in client.get("/config?previous=1").text
    response = client.post("/config/previous")
    assert response.status == 303
    assert workdir.config.read_text() == CONFIG_4D
    assert workdir.previous_config.read_text() == new


def test_going_back_to_an_invalid_previous_version_is_refused(client, workdir):
    workdir.previous_config.write_text(BAD_MODE)
    response = client.post("/config/previous")
    assert response.status == 422
    assert "the previous version is not valid, so it was not restored" in response.text
    assert workdir.config.read_text() == CONFIG_4D


def test_without_a_config_the_editor_points_to_the_wizard(client, workdir):
    workdir.config.unlink()
    page = client.get("/config").text
    assert "There is no config.toml yet: the" in page
    assert textarea(page) == ""


# ---- The wizard ---------------------------------------------------------------------------------

CHANNEL_SETS = [
    (),
    ("osc",),
    ("midi",),
    ("websocket",),
    ("serial",),
    ("serialmidi",),
    ("osc", "midi", "websocket"),
]


@pytest.mark.parametrize("channels", CHANNEL_SETS, ids=lambda c: "+".join(c) or "none")
@pytest.mark.parametrize("kind", ["control_change", "note_on"])
def test_the_wizard_always_writes_a_valid_config(channels, kind):
    choices = WizardChoices(channels=channels, midi_kind=kind, midi_in="nanoKONTROL", midi_out="S-1")
    config, problems = parse_config(wizard_text(choices))
    assert config is not None, problems
    assert [p for p in problems if p.severity == "error"] == []
    assert config.model.dimension == 9
    for name in ("osc", "midi", "websocket", "serial", "serialmidi"):
        assert (getattr(config, name) is not None) == (name in channels)
    # A MIDI instrument changes one control per message: the model plays it that way too.
    assert config.model.one_at_a_time == ("midi" in channels or "serialmidi" in channels)


def test_the_wizard_midi_mapping_follows_the_dimension():
    config, _ = parse_config(
        wizard_text(WizardChoices(dimension=4, channels=("midi",), midi_in="S-1", midi_first_cc=70))
    )
    assert [(e.kind, e.channel, e.control) for e in config.midi.input["S-1"]] == [
        ("control_change", 0, 70),
        ("control_change", 0, 71),
        ("control_change", 0, 72),
    ]


def test_the_wizard_page_fills_the_editor_without_saving(client, workdir):
    response = client.post(
        "/config/wizard",
        {
            "title": "Kit",
            "mode": "battle",
            "dimension": "5",
            "model": "",
            "size": "s",
            "channels": ["osc", "serial"],
            "osc_server_port": "7000",
            "osc_client_ip": "192.168.1.2",
            "osc_client_port": "7001",
            "serial_port": "/dev/ttyACM0",
            "serial_baudrate": "115200",
        },
    )
    assert response.status == 200
    assert "Here is your new config. Check it, then Save to use it." in response.text
    text = textarea(response.text)
    config, _ = parse_config(text)
    assert (config.title, config.interaction.mode, config.model.dimension) == ("Kit", "battle", 5)
    assert (config.osc.server_port, config.osc.client_ip) == (7000, "192.168.1.2")
    assert config.serial.port == "/dev/ttyACM0" and config.midi is None
    assert (config.webui.monitor_port, config.webui.command_port) == (4001, 4002)
    assert workdir.config.read_text() == CONFIG_4D


def test_the_wizard_starts_from_the_current_config(client, workdir):
    page = client.get("/config/wizard").text
    assert '<input type="number" name="dimension" min="2" max="100" value="4">' in page
    assert '<input type="number" name="osc_server_port" min="1" max="65535" value="6000">' in page
    assert 'value="osc" checked>' in page and 'value="midi" >' in page
    assert "<option selected>callresponse</option>" in page


def test_the_wizard_takes_dimension_and_size_from_a_chosen_model(client, workdir):
    (workdir.folder("model") / "m.tflite").write_bytes(b"MODEL dim=9")
    response = client.post("/config/wizard", {"model": "m.tflite", "dimension": "4", "channels": ["osc"]})
    config, _ = parse_config(textarea(response.text))
    assert (config.model.file, config.model.dimension, config.model.size) == ("models/m.tflite", 9, "s")


def test_the_wizard_refuses_an_unknown_model(client):
    response = client.post("/config/wizard", {"model": "nothing.tflite"})
    assert response.status == 400
    assert "there is no usable model called &#039;nothing.tflite&#039;" in response.text


def test_the_wizard_refuses_a_number_that_is_not_one(client):
    response = client.post("/config/wizard", {"dimension": "nine"})
    assert response.status == 400
    assert "dimension: expected a whole number, found &#039;nine&#039;" in response.text


def test_a_wizard_choice_the_checker_refuses_is_shown_not_hidden(client):
    response = client.post("/config/wizard", {"channels": ["osc"], "osc_server_port": "4001"})
    assert response.status == 422
    assert "The wizard&#039;s choices do not make a valid config yet" in response.text
    assert any("webui.monitor_port" in p for p in problems_shown(response.text))


# ---- Editing text ---------------------------------------------------------------------------------


def test_set_keys_changes_values_and_keeps_comments():
    edited = set_keys(CONFIG_4D, "interaction", {"mode": "battle"})
    assert 'mode = "battle"   # who plays when' in edited
    assert edited.replace('"battle"', '"callresponse"') == CONFIG_4D


def test_set_keys_adds_missing_keys_and_sections():
    edited = set_keys("[model]\ndimension = 4\n# a note\n\n[osc]\n", "model", {"file": "models/a.tflite"})
    assert edited == '[model]\ndimension = 4\nfile = "models/a.tflite"\n# a note\n\n[osc]\n'
    assert set_keys("", "model", {"dimension": 4}) == "[model]\ndimension = 4\n"
    assert set_keys("x = 1\n", "model", {"size": "s"}) == 'x = 1\n\n[model]\nsize = "s"\n'


def test_with_model_points_the_config_at_a_model():
    edited = with_model(CONFIG_4D, "models/new.tflite", 9, "m", "config.toml")
    config, _ = parse_config(edited)
    assert (config.model.file, config.model.dimension, config.model.size) == ("models/new.tflite", 9, "m")


def test_with_model_refuses_a_dimension_the_mappings_do_not_fit():
    with pytest.raises(EditError, match=r'midi.input."S-1": expected 8 entries'):
        with_model(CONFIG_4D_MIDI, "models/new.tflite", 9, "s", "config.toml")


def test_with_model_refuses_a_config_it_cannot_edit_safely():
    model = '[model]\ndimension = 4\nfile = ""\nsize = "s"\nsigmatemp = 0.01\npitemp = 1\ntimescale = 1\n'
    assert model in CONFIG_4D
    inline = (
        'model = { dimension = 4, file = "", sigmatemp = 0.01, pitemp = 1, timescale = 1 }\n'
        + CONFIG_4D.replace(model, "")
    )
    assert parse_config(inline)[0] is not None
    with pytest.raises(EditError):
        with_model(inline, "models/new.tflite", 4, "s", "config.toml")


@pytest.mark.parametrize(
    "key, line",
    [
        ("interaction.mode", 5),
        ("model.file", 11),
        ("osc", 17),
        ("title", 1),
        ("webui.monitor_port", 24),
        ("", None),
    ],
)
def test_locate_finds_the_line_of_a_key(key, line):
    assert locate(CONFIG_4D, key) == line


def test_locate_finds_quoted_device_keys():
    assert (
        locate(CONFIG_4D_MIDI, 'midi.input."S-1"[2]')
        == CONFIG_4D_MIDI.splitlines().index(
            'input."S-1" = [["control_change", 1, 1], ["control_change", 1, 2], ["control_change", 1, 3]]'
        )
        + 1
    )


def test_repo_example_configs_all_pass(tmp_path: Path):
    for path in sorted((REPO / "configs").glob("*.toml")):
        config, problems = parse_config(path.read_text(), path.name)
        assert config is not None, problems


def test_a_config_naming_a_model_that_is_not_there_is_not_saved(client, workdir):
    """The stage musician would hear random noise: check-config and the page both say so."""
    text = CONFIG_4D.replace('file = ""', 'file = "models/tonight.tflite"')
    response = client.post("/config", {"text": text})
    assert response.status == 422
    assert "models/tonight.tflite: no such file" in response.text
    (workdir.folder("model") / "tonight.tflite").write_bytes(b"\0" * 64)
    assert client.post("/config", {"text": text, "action": "check"}).status == 200


def test_the_wizard_changes_only_what_was_changed_and_keeps_every_comment(client, workdir):
    commented = (
        "# my stage, tuned at the sound check\n"
        + CONFIG_4D.replace("log_predictions = false\n", "log_predictions = false\nverbose = true\n")
        .replace("[osc]", "# to the laptop running Pd\n[osc]")
        .replace('server_ip = "127.0.0.1"', 'server_ip = "127.0.0.1"   # only this computer')
        .replace("[webui]\n", "[webui]\n# the web UI's own ports\n")
    )
    workdir.config.write_text(commented)
    form = {"mode": "battle", "channels": ["osc"], "osc_client_port": "7001"}
    response = client.post("/config/wizard", form)
    assert response.status == 200
    expected = commented.replace('mode = "callresponse"', 'mode = "battle"').replace(
        "client_port = 6001", "client_port = 7001"
    )
    assert textarea(response.text) == expected  # server_ip, verbose and every comment untouched


def test_the_wizard_adds_and_removes_channels_as_sections(client, workdir):
    response = client.post("/config/wizard", {"channels": ["serial"], "serial_port": "/dev/ttyUSB0"})
    text = textarea(response.text)
    config, problems = parse_config(text)
    assert config is not None, problems
    assert config.osc is None and config.serial.port == "/dev/ttyUSB0"
    assert text.startswith(CONFIG_4D.split("[osc]")[0])  # what came before is as it was


def test_the_wizard_moves_one_control_at_a_time_for_a_midi_instrument(client, workdir):
    workdir.config.write_text(CONFIG_4D)
    form = {"channels": ["osc", "midi"], "midi_in": "nanoKONTROL", "midi_kind": "control_change"}
    config, problems = parse_config(textarea(client.post("/config/wizard", form).text))
    assert config is not None, problems
    assert config.model.one_at_a_time and config.midi.in_device == ("nanoKONTROL",)
    workdir.config.write_text(textarea(client.post("/config/wizard", form).text))
    config, _ = parse_config(textarea(client.post("/config/wizard", {"channels": ["osc"]}).text))
    assert not config.model.one_at_a_time  # OSC sends every control in one message

"""Messages on the web UI's pages: settings as people write them, a stopped run not "playing",
the login page's advice for this machine, and a logged-out 404 without the menu."""

from __future__ import annotations

import pytest

from impsy.web import pages_login
from impsy.web.passwords import write_password_hash
from impsy.web.system import human_number


@pytest.mark.parametrize(
    ("value", "shown"), [(0.30000001192092896, "0.3"), (2.0, "2"), (0.005, "0.005"), (None, "-")]
)
def test_settings_are_shown_as_people_write_them(value, shown):
    assert human_number(value) == shown


def test_a_temperature_sent_over_osc_reads_as_typed(ui, client):
    def as_osc_float32(name, value):
        ui.link.sent.append((name, value))
        ui.link.state[name] = 0.30000001192092896  # what `impsy run` reports for a float32 0.3
        ui.link.report()

    ui.link.send = as_osc_float32
    client.post("/commands/sigmatemp", {"value": "0.3"})
    page = client.get("/commands").text
    assert "Sigma temperature is now 0.3." in page and "0.30000001" not in page


def test_commands_say_a_stopped_run_is_not_playing(ui, client):
    ui.link.state["playing"] = True
    ui.link.report()
    assert '"state.playing" data-format="yesno" data-stopped="no: impsy run has stopped">yes<' in (
        client.get("/commands").text
    )
    ui.link._last_heard -= 60  # `impsy run` stopped reporting a minute ago
    page = client.get("/commands").text
    assert '">no: impsy run has stopped</dd>' in page and ">yes<" not in page


@pytest.fixture
def with_password(workdir):
    write_password_hash(workdir.state / "password", "sesame")


def test_the_login_page_on_a_laptop_does_not_send_you_to_srv_impsy(client, with_password):
    page = client.get("/login").text
    assert "/srv/impsy" not in page
    assert "in its working folder (where its <code>config.toml</code> is), run " in page
    assert "<code>impsy webui --clear-password</code>" in page


def test_the_login_page_on_the_instrument_names_its_folder(ui, client, with_password, monkeypatch):
    monkeypatch.setattr(pages_login, "APPLIANCE_WORKDIR", ui.workdir.root.resolve())
    page = client.get("/login").text
    assert f"<code>impsy webui --clear-password --workdir {ui.workdir.root.resolve()}</code>" in page
    assert "ssh musician@impsypi.local" in page


def test_a_logged_out_404_shows_no_menu_and_no_log_out(client, with_password):
    response = client.get("/no-such-page")
    assert response.status == 404
    page = response.text
    assert "There is no page at /no-such-page." in page
    assert 'nav class="main"' not in page and "Log out" not in page and "not running" not in page
    assert '<a href="/login">Log in</a>' in page


def test_a_logged_in_404_keeps_the_menu(client, with_password):
    client.post("/login", {"password": "sesame", "next": "/"})
    page = client.get("/no-such-page").text
    assert 'nav class="main"' in page and "Log out" in page

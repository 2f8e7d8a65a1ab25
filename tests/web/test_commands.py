"""Commands to `impsy run`, its reports on the monitor port, and the live stream to the browser."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

import pytest
from pythonosc.osc_packet import OscPacket

from impsy.channels.udp import osc_message
from impsy.web.link import Link
from impsy.web.modelcheck import check_files


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- The command routes (FakeLink answers as `impsy run` would) --------------------------------------


@pytest.mark.parametrize(
    "path, form, sent, message",
    [
        ("/commands/mode", {"value": "battle"}, ("mode", "battle"), "Mode is now battle."),
        ("/commands/pause", {}, ("pause", 1), "Paused: IMPSY is silent."),
        ("/commands/resume", {}, ("pause", 0), "Playing again."),
        ("/commands/reset", {}, ("reset", 1), "The model's memory was reset."),
        ("/commands/sigmatemp", {"value": "0.05"}, ("sigmatemp", 0.05), "Sigma temperature is now 0.05."),
        ("/commands/pitemp", {"value": "2"}, ("pitemp", 2.0), "Pi temperature is now 2."),
        ("/commands/timescale", {"value": "0.5"}, ("timescale", 0.5), "Timescale is now 0.5."),
    ],
)
def test_each_command_is_sent_and_the_reported_state_shown(ui, client, path, form, sent, message):
    response = client.post(path, form)
    assert response.status == 303 and response.location == "/commands"
    assert ui.link.sent == [sent]
    page = client.get("/commands").text
    assert message.replace("'", "&#039;") in page


def test_the_page_shows_the_state_impsy_run_reports_not_a_guess(ui, client):
    ui.link.answering = False  # impsy run ignores the command (or is not running)
    ui.link.report()
    response = client.post("/commands/mode", {"value": "battle"})
    assert response.status == 303
    page = client.get("/commands").text
    assert "sent mode, but `impsy run` did not answer: is it running?" in page
    assert 'data-state="mode">callresponse<' in page


def test_the_api_says_when_impsy_run_did_not_answer(ui, client):
    ui.link.answering = False
    response = client.post("/api/commands/mode", {"value": "battle"})
    assert response.status == 504
    assert response.json() == {
        "error": "sent mode, but `impsy run` did not answer: is it running?",
        "sent": True,
    }


def test_the_api_answers_with_the_new_state(ui, client):
    response = client.post("/api/commands/mode", {"value": "polyphony"})
    assert response.status == 200
    body = response.json()
    assert body["message"] == "Mode is now polyphony." and body["state"]["mode"] == "polyphony"


def test_a_mode_impsy_run_kept_is_reported_as_kept(ui, client):
    def stubborn(name, value):
        ui.link.sent.append((name, value))
        ui.link.report()  # reports, but keeps its mode

    ui.link.send = stubborn
    response = client.post("/api/commands/mode", {"value": "battle"})
    assert response.json()["message"] == "impsy run kept mode callresponse (asked for battle)."


@pytest.mark.parametrize(
    "path, value, message",
    [
        (
            "/api/commands/mode",
            "jazz",
            "mode expects one of callresponse, polyphony, battle, useronly, got ['jazz']",
        ),
        ("/api/commands/sigmatemp", "-1", "sigmatemp expects a number from 0 to 10, got [-1.0]"),
        ("/api/commands/pitemp", "lots", "pitemp expects a number from 0 to 100, got ['lots']"),
        ("/api/commands/timescale", "0", "timescale expects a number from 0.001 to 100, got [0.0]"),
        ("/api/commands/timescale", "nan", "timescale expects a number from 0.001 to 100, got [nan]"),
        ("/api/commands/pause", "2", "pause expects 1 (pause) or 0 (resume), got ['2']"),
    ],
)
def test_bad_command_values_are_refused_and_not_sent(ui, client, path, value, message):
    response = client.post(path, {"value": value})
    assert response.status == 400
    assert response.json() == {"error": message}
    assert ui.link.sent == []


def test_an_unknown_command_is_a_404(ui, client):
    response = client.post("/api/commands/shutdown", {"value": "1"})
    assert response.status == 404
    assert response.json() == {
        "error": "there is no command 'shutdown': use one of mode, pause, reset, sigmatemp, pitemp, timescale"
    }


def test_commands_accept_json_bodies(ui, client):
    token = client.token()
    response = client.request(
        "POST",
        "/api/commands/timescale",
        json.dumps({"value": 2}).encode(),
        {"Content-Type": "application/json", "X-CSRF-Token": token},
    )
    assert response.status == 200
    assert ui.link.sent == [("timescale", 2.0)]


# ---- The live stream ----------------------------------------------------------------------------------


def read_events(chunks, count: int) -> list[tuple[str, dict]]:
    events, buffer = [], ""
    for chunk in chunks:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            lines = dict(
                line.split(": ", 1) for line in block.splitlines() if ": " in line and line[0] != ":"
            )
            if "event" in lines:
                events.append((lines["event"], json.loads(lines["data"])))
                if len(events) == count:
                    return events
    return events


def test_the_stream_sends_status_then_vectors_as_they_arrive(ui, client):
    status, headers, body = client.stream("/monitor/stream")
    assert status == 200
    assert dict(headers)["Content-Type"].startswith("text/event-stream")
    assert dict(headers)["Cache-Control"] == "no-cache"
    chunks = iter(body)
    first = read_events(chunks, 1)
    assert first[0][0] == "status" and first[0][1]["alive"] is False

    ui.link.receive(osc_message("/monitor/in", [0.25, 0.5, 0.75]))
    ui.link.receive(osc_message("/monitor/out", [0.1, 0.2, 0.3]))
    events = read_events(chunks, 1)
    body.close()
    kind, batch = events[0]
    assert kind == "vectors"
    assert [v for _, v in batch["in"]] == [[0.25, 0.5, 0.75]]
    assert [v for _, v in batch["out"]] == [pytest.approx([0.1, 0.2, 0.3])]


def test_the_stream_without_vectors_sends_state_changes(ui, client):
    _, _, body = client.stream("/monitor/stream?vectors=0")
    chunks = iter(body)
    read_events(chunks, 1)
    ui.link.report()
    kind, data = read_events(chunks, 1)[0]
    body.close()
    assert kind == "status" and data["alive"] is True and data["state"]["mode"] == "callresponse"


def test_idle_streams_never_lock_out_a_new_one(ui, client):
    """16 streams nobody reads: the 17th is let in, and the oldest ones are told to end."""
    from web.helpers import Client

    from impsy.web import streams

    hoarder = Client(ui.app, remote="10.0.0.66")
    idle = []
    for _ in range(16):
        status, _, body = hoarder.stream("/monitor/stream?vectors=0")
        assert status == 200
        chunks = iter(body)
        next(chunks)  # started, then never read again
        idle.append((chunks, body))
    assert len(ui.streams) == streams.MAX_STREAMS
    status, _, mine = client.stream("/monitor/stream?vectors=0")
    assert status == 200
    read_events(iter(mine), 1)
    # The hoarder's oldest streams end at their next event (its newest are still open).
    ui.link.report()
    chunks, _ = idle[0]
    assert next(chunks) == f"retry: {streams.RECONNECT_MS}\n\n".encode()
    assert next(chunks, None) is None
    mine.close()
    for _, body in idle:
        body.close()
    assert len(ui.streams) == 0


def test_a_stream_ends_after_its_lifetime(ui, client, monkeypatch):
    from impsy.web import streams

    monkeypatch.setattr(streams, "LIFETIME", 0.0)
    _, _, body = client.stream("/monitor/stream?vectors=0")
    assert list(body) == [f"retry: {streams.RECONNECT_MS}\n\n".encode()]


# ---- The Link itself, on real UDP sockets ----------------------------------------------------------------


@pytest.fixture
def link():
    made = Link(free_udp_port(), free_udp_port())
    made.start()
    yield made
    made.stop()


def test_link_hears_impsy_run_on_the_monitor_port(link):
    before = link.seq
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(osc_message("/monitor/in", [0.5, 0.25]), ("127.0.0.1", link.monitor_port))
        sender.sendto(osc_message("/monitor/state", ['{"mode": "battle"}']), ("127.0.0.1", link.monitor_port))
        state = link.wait_for_state(before, 5.0)
    assert state == {"mode": "battle"}
    _, vectors, _ = link.wait(before, 0)
    assert [(v.kind, v.values) for v in vectors] == [("in", (0.5, 0.25))]
    status = link.status()
    assert status["alive"] and status["rates"]["in"] == pytest.approx(0.2)


def test_link_ignores_what_is_not_osc_or_not_for_it(link):
    link.receive(b"garbage")
    link.receive(b"#bundle\0" + b"\0" * 7 + b"\1" + b"\xff\xff\xff\xfc")  # python-osc loops on this
    link.receive(osc_message("/monitor/state", ["not json"]))
    link.receive(osc_message("/monitor/state", ["[1, 2]"]))
    link.receive(osc_message("/other", [1.0]))
    assert link.seq == 0 and link.status()["state"] is None and not link.alive()


def test_link_sends_commands_to_the_command_port(link):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as run:
        run.bind(("127.0.0.1", link.command_port))
        run.settimeout(5)
        link.send("mode", "battle")
        link.send("pause", 1)
        messages = [OscPacket(run.recv(1024)).messages[0].message for _ in range(2)]
    assert [(m.address, list(m.params)) for m in messages] == [
        ("/impsy/mode", ["battle"]),
        ("/impsy/pause", [1]),
    ]


def test_link_refuses_unknown_commands(link):
    with pytest.raises(ValueError, match="unknown command shutdown"):
        link.send("shutdown", 1)


def test_link_reports_a_taken_monitor_port_and_recovers(link):
    taken = Link(link.monitor_port, link.command_port)
    taken.start()
    assert taken.error.startswith(f"cannot listen on 127.0.0.1:{link.monitor_port} for `impsy run`")
    assert taken.status()["error"] == taken.error
    taken.reconfigure(free_udp_port(), link.command_port)
    assert taken.error is None
    taken.stop()


def test_link_follows_a_new_monitor_port(link):
    new = free_udp_port()
    link.reconfigure(new, link.command_port)
    before = link.seq
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(osc_message("/monitor/state", ['{"mode": "useronly"}']), ("127.0.0.1", new))
        assert link.wait_for_state(before, 5.0) == {"mode": "useronly"}


def test_a_model_check_that_crashes_is_reported_not_raised(tmp_path: Path):
    crasher = tmp_path / "python"
    crasher.write_text("#!/bin/sh\nkill -SEGV $$\n")
    crasher.chmod(crasher.stat().st_mode | stat.S_IXUSR)
    results = check_files([tmp_path / "a.tflite", tmp_path / "b.tflite"], python=str(crasher))
    assert results == [{"error": "it crashed the model interpreter (signal 11)"}] * 2

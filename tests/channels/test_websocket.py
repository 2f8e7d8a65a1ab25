"""[websocket] with real WebSocket clients on loopback."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import numpy as np
import pytest
from fakes.sink import GUARD, RecordingSink, run, until
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from impsy.channels.midimap import NOTE_ON, MidiEvent
from impsy.channels.websocket import WebSocketChannel, format_event, parse_message
from impsy.config import parse_config

SECTION = """
[websocket]
server_ip = "127.0.0.1"
server_port = 5001
input = [["note_on", 1], ["note_velocity", 1], ["control_change", 2, 7], ["pitch_bend", 3]]
output = [["note_on", 10], ["note_velocity", 10], ["control_change", 2, 7, 0, 100], ["pitch_bend", 3]]
"""


def make() -> tuple[WebSocketChannel, RecordingSink]:
    text = (
        "[interaction]\nmode = 'callresponse'\nthreshold = 0.1\n"
        f"[model]\ndimension = 5\nsigmatemp = 0.01\npitemp = 1\ntimescale = 1\n{SECTION}"
    )
    config, problems = parse_config(text)
    assert config is not None, problems
    sink = RecordingSink()
    # Port 0: the system picks a free port, so tests never collide with anything.
    return WebSocketChannel(replace(config.websocket, server_port=0), sink, 5), sink


async def receive(client, count: int) -> list[str]:
    return [await asyncio.wait_for(client.recv(), GUARD) for _ in range(count)]


def test_messages_in_through_the_input_mapping():
    channel, sink = make()

    async def go():
        await channel.start()
        async with connect(f"ws://127.0.0.1:{channel.port}") as client:
            for message in (
                "/channel/1/noteon/64/127",  # pitch and velocity in one event
                "/channel/1/noteoff/64/0",  # a note ending sets nothing
                "/channel/1/noteon/64/0",  # nor does a note on with velocity 0
                "/channel/2/cc/7/127",
                "/channel/2/cc/8/127",  # not mapped
                "/channel/3/pitchbend/16383\n",  # a trailing newline is tolerated
                "/channel/3/pitchbend/0",
            ):
                await client.send(message)
            await until(lambda: len(sink.changes) == 4, "four control changes")
        await channel.close()

    run(go())
    assert sink.changes == [{0: 64 / 127, 1: 1.0}, {2: 1.0}, {3: 1.0}, {3: 0.0}]
    assert sink.drops == [] and sink.sources == {"websocket"}


BAD = [
    "hello",
    "",
    "/channel/1/noteon/60",  # too few fields
    "/channel/1/noteon/60/100/5",  # too many
    "/channel/0/noteon/60/100",  # channels are 1-16 on the wire
    "/channel/17/noteon/60/100",
    "/channel/1/noteon/128/100",
    "/channel/1/noteon/x/100",
    "/channel/1/cc/7/-1",
    "/channel/1.5/cc/7/1",
    "/channel/\u0661/cc/7/1",  # an Arabic-Indic digit one: a digit, but not one of ours
    "/channel/1/pitchbend/16384",
    "/channel/1/pitchbend/nan",
    "/channel/1/program/5",
    "/impsy/mode/battle",
]


def test_bad_messages_are_dropped_and_counted_and_good_ones_still_arrive():
    channel, sink = make()

    async def go():
        await channel.start()
        async with connect(f"ws://127.0.0.1:{channel.port}") as client:
            for message in BAD:
                await client.send(message)
            await client.send("/channel/1/noteon/60/100" * 500)  # far too long: dropped, still connected
            await client.send(b"/channel/1/noteon/60/100")  # binary: not a text message
            await client.send("/channel/1/noteon/60/100")
            await until(lambda: len(sink.changes) == 1, "the good message")
        await channel.close()

    run(go())
    assert len(sink.drops) == len(BAD) + 2
    assert sink.changes == [{0: 60 / 127, 1: 100 / 127}]
    assert "channel 17 is outside 1-16" in sink.drops[5]
    assert sink.drops[-2] == "a message of 12000 bytes ignored (at most 4096)"
    assert "binary message ignored" in sink.drops[-1]


def test_a_client_cut_off_for_what_it_sent_is_counted():
    channel, sink = make()

    async def go():
        await channel.start()
        async with connect(f"ws://127.0.0.1:{channel.port}", max_size=None) as client:
            await client.send("x" * 70_000)  # over MAX_FRAME: the library closes with 1009
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(client.recv(), GUARD)
        async with connect(f"ws://127.0.0.1:{channel.port}") as client:
            await client.send(b"\xff\xfe", text=True)  # a text frame that is not UTF-8: 1007
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(client.recv(), GUARD)
        await until(lambda: len(sink.drops) == 2, "both counted")
        async with connect(f"ws://127.0.0.1:{channel.port}") as client:
            await until(lambda: channel.clients, "connected")
            await client.close(code=1002)  # its own choice, echoed back by the server: not counted
        await until(lambda: not channel.clients, "gone")
        await channel.close()

    run(go())
    assert [drop.split(" cut off for ")[1] for drop in sink.drops] == [
        "a message over 65536 bytes",
        "text that is not UTF-8",
    ]
    assert sink.drops[0].startswith("client 127.0.0.1:")


def test_output_goes_to_every_client_through_the_output_mapping():
    channel, _ = make()

    async def go():
        await channel.start()
        url = f"ws://127.0.0.1:{channel.port}"
        async with connect(url) as first, connect(url) as second:
            await until(lambda: len(channel.clients) == 2, "two clients")
            channel.send(np.array([0.5, 0.5, 1.0, 0.5]))
            channel.send(np.array([1.0, 1.0, 1.0, 0.5]))  # the controller and bend have not moved
            channel.silence()
            expected = [
                "/channel/2/cc/7/100",
                "/channel/3/pitchbend/8192",
                "/channel/10/noteon/64/64",
                "/channel/10/noteoff/64/0",
                "/channel/10/noteon/127/127",
                "/channel/10/noteoff/127/0",
            ]
            assert await receive(first, 6) == expected
            assert await receive(second, 6) == expected
        await channel.close()

    run(go())


def test_a_client_that_joins_late_hears_every_controller_with_the_next_output():
    channel, _ = make()

    async def go():
        await channel.start()
        url = f"ws://127.0.0.1:{channel.port}"
        async with connect(url) as first:
            await until(lambda: len(channel.clients) == 1, "one client")
            channel.send(np.array([0.5, 0.5, 1.0, 0.5]))
            assert len(await receive(first, 3)) == 3
            async with connect(url) as late:
                await until(lambda: len(channel.clients) == 2, "two clients")
                channel.send(np.array([1.0, 1.0, 1.0, 0.5]))  # the controller and bend have not moved
                assert await receive(late, 4) == [
                    "/channel/10/noteoff/64/0",
                    "/channel/2/cc/7/100",
                    "/channel/3/pitchbend/8192",
                    "/channel/10/noteon/127/127",
                ]
        await channel.close()

    run(go())


def test_a_client_that_drops_does_not_disturb_the_others():
    channel, _ = make()

    async def go():
        await channel.start()
        url = f"ws://127.0.0.1:{channel.port}"
        async with connect(url) as staying:
            leaving = await connect(url)
            await until(lambda: len(channel.clients) == 2, "two clients")
            leaving.transport.abort()  # the browser tab is killed: no closing handshake
            channel.send(np.array([0.5, 0.5, 0.0, 0.5]))
            await until(lambda: len(channel.clients) == 1, "the dropped client forgotten")
            channel.send(np.array([0.25, 0.5, 0.0, 0.5]))
            received = await receive(staying, 5)
        await channel.close()
        return received

    assert run(go()) == [
        "/channel/2/cc/7/0",
        "/channel/3/pitchbend/8192",
        "/channel/10/noteon/64/64",
        "/channel/10/noteoff/64/0",
        "/channel/10/noteon/32/64",
    ]


def test_close_ends_the_notes_before_closing_the_clients():
    channel, _ = make()

    async def go():
        await channel.start()
        async with connect(f"ws://127.0.0.1:{channel.port}") as client:
            await until(lambda: len(channel.clients) == 1, "a client")
            channel.send(np.array([0.5, 1.0, 0.0, 0.5]))
            await channel.close()
            received = [message async for message in client]  # until the server closes
            with pytest.raises(ConnectionClosed):
                await client.recv()
        return received

    assert run(go())[-2:] == ["/channel/10/noteon/64/127", "/channel/10/noteoff/64/0"]


def test_wire_format_round_trips():
    for text in ("/channel/16/noteon/0/1", "/channel/1/noteoff/127/64", "/channel/9/cc/74/0"):
        assert format_event(parse_message(text)) == text
    assert format_event(parse_message("/channel/1/pitchbend/16383")) == "/channel/1/pitchbend/16383"
    assert parse_message("/channel/10/noteon/60/100") == MidiEvent(NOTE_ON, 9, 60, 100)

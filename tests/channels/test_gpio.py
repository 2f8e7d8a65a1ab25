"""[gpio] with gpiozero's mock pins: buttons to commands, activity to LEDs, and no Pi at all."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from fakes.sink import RecordingSink, run, until
from gpiozero import Device
from gpiozero.exc import BadPinFactory
from gpiozero.pins.mock import MockFactory

from impsy.channels import gpio
from impsy.channels.gpio import GpioChannel
from impsy.config import GpioConfig

CONFIG = GpioConfig(
    buttons={"mode": 17, "pause": "GPIO27", "reset": "BOARD15"},  # BOARD15 is GPIO22
    leds={"input": 5, "output": "BCM6", "playing": 13},
)


@pytest.fixture
def pins():
    previous, factory = Device.pin_factory, MockFactory()
    Device.pin_factory = factory
    yield factory
    factory.reset()
    Device.pin_factory = previous


def make(config: GpioConfig = CONFIG) -> tuple[GpioChannel, RecordingSink]:
    sink = RecordingSink()
    channel = GpioChannel(config, sink, 9)
    channel.bounce_seconds = None  # presses in a test come faster than any finger
    channel.flash_seconds = 0.01
    return channel, sink


def press(factory, pin: int) -> None:
    factory.pin(pin).drive_low()  # the button connects the pin to ground
    factory.pin(pin).drive_high()


def test_buttons_send_commands_mode_cycles_and_pause_toggles_from_the_reported_state(pins):
    channel, sink = make()

    async def go():
        await channel.start()
        assert channel.active and channel.factory is pins
        channel.report({"mode": "callresponse", "paused": False, "playing": False})
        for _ in range(4):
            press(pins, 17)
        await until(lambda: len(sink.commands) == 4, "four mode presses")
        channel.report({"mode": "battle", "paused": True, "playing": False})  # changed elsewhere
        press(pins, 17)
        press(pins, 27)
        press(pins, 27)
        press(pins, 22)
        await until(lambda: len(sink.commands) == 8, "the other presses")
        await channel.close()

    run(go())
    assert sink.commands == [
        ("mode", "polyphony"),
        ("mode", "battle"),
        ("mode", "useronly"),
        ("mode", "callresponse"),
        ("mode", "useronly"),  # after battle, as the web UI had set it
        ("pause", False),  # it was paused: resume
        ("pause", True),
        ("reset", None),
    ]
    assert sink.sources == {"gpio"}


def test_activity_leds_flash_and_go_out_and_playing_follows_the_state(pins):
    channel, _ = make()
    lit = {
        name: (lambda pin=pin: pins.pin(pin).state) for name, pin in (("in", 5), ("out", 6), ("playing", 13))
    }

    async def go():
        await channel.start()
        assert not any(state() for state in lit.values())
        channel.monitor_input(np.zeros(8))
        assert lit["in"]() and not lit["out"]()
        await until(lambda: not lit["in"](), "the input LED out again")
        channel.send(np.zeros(8))
        assert lit["out"]() and not lit["in"]()
        await until(lambda: not lit["out"](), "the output LED out again")
        channel.report({"mode": "callresponse", "paused": False, "playing": True})
        assert lit["playing"]()
        channel.report({"mode": "callresponse", "paused": False, "playing": False})
        assert not lit["playing"]()
        channel.report({"mode": "battle", "paused": False, "playing": True})
        channel.monitor_input(np.zeros(8))
        await channel.close()  # everything goes dark

    run(go())
    assert not any(state() for state in lit.values())


def test_pin_factory_mock_in_the_config_needs_no_setup():
    channel, sink = make(GpioConfig(buttons={"reset": 4}, pin_factory="mock"))

    async def go():
        await channel.start()
        assert isinstance(channel.factory, MockFactory)
        press(channel.factory, 4)
        await until(lambda: sink.commands == [("reset", None)], "a reset")
        await channel.close()

    run(go())


def test_without_gpio_pins_a_clear_warning_and_nothing_else(monkeypatch, caplog):
    # A laptop or container: gpiozero finds no pin factory that works here.
    monkeypatch.setattr(Device, "pin_factory", None)

    def no_pins():
        raise BadPinFactory("Unable to load any default pin factory!")

    monkeypatch.setattr(Device, "_default_pin_factory", staticmethod(no_pins))
    channel, sink = make()

    async def go():
        with caplog.at_level(logging.WARNING):
            await channel.start()
        channel.monitor_input(np.zeros(8))
        channel.send(np.zeros(8))
        channel.report({"playing": True})
        await channel.close()

    run(go())
    assert not channel.active
    assert (
        "gpio: no usable GPIO pins here (BadPinFactory: Unable to load any default pin factory!)"
        in caplog.text
    )
    assert "[gpio] buttons and LEDs are off" in caplog.text
    assert sink.commands == []


def test_a_named_pin_factory_that_cannot_work_here_is_a_warning(monkeypatch, caplog):
    def unavailable(name):
        raise BadPinFactory(f"{name}: unable to locate Pi revision in /proc/device-tree or /proc/cpuinfo")

    monkeypatch.setattr(gpio, "pin_factory", unavailable)
    channel, _ = make(GpioConfig(leds={"playing": 13}, pin_factory="lgpio"))

    async def go():
        with caplog.at_level(logging.WARNING):
            await channel.start()
        await channel.close()

    run(go())
    assert not channel.active and "lgpio: unable to locate Pi revision" in caplog.text


def test_gpiozero_is_not_even_imported_without_a_gpio_section(tmp_path):
    script = textwrap.dedent(
        """
        import sys
        from impsy.channels import build_channels
        from impsy.config import parse_config

        text = '''
        [interaction]
        mode = "callresponse"
        threshold = 0.1
        [model]
        dimension = 3
        sigmatemp = 0.01
        pitemp = 1
        timescale = 1
        [midi]
        out_device = ["Synth"]
        output."Synth" = [["note_on", 1], ["control_change", 1, 1]]
        [websocket]
        server_ip = "127.0.0.1"
        server_port = 5001
        input = [["note_on", 1], ["control_change", 1, 1]]
        output = [["note_on", 1], ["control_change", 1, 1]]
        [serial]
        port = "/dev/ttyACM0"
        baudrate = 115200
        '''
        config, problems = parse_config(text)
        channels = build_channels(config, None, 3)
        print(sorted(c.name for c in channels), "gpiozero" in sys.modules)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "['midi', 'serial', 'websocket'] False"

"""[gpio]: push buttons and LEDs on a Raspberry Pi's header, to play with no laptop at all.

Buttons (wired from the pin to ground; the pin's pull-up holds it high) send commands:
- mode: the next mode, callresponse -> polyphony -> battle -> useronly -> callresponse
- pause: pause if playing, resume if paused
- reset: the model forgets the performance so far

LEDs (pin -> resistor -> LED -> ground) show activity:
- input: a short flash for every gesture the performer plays (on any channel)
- output: a short flash for every gesture sent out (IMPSY's own, and the performer's when
  input_thru is on)
- playing: lit while IMPSY is playing on its own (answering in callresponse, or in battle),
  dark while it listens or is paused

gpiozero is imported only when this channel starts, so a config without [gpio] costs
nothing. Where there are no pins (a laptop, a container) the channel warns once and does
nothing. gpiozero calls button handlers on its own thread; they are handed to the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from typing import Any

import numpy as np

from impsy.channels.base import Channel, Sink, close_quietly
from impsy.config import GpioConfig
from impsy.interaction.core import MODES

log = logging.getLogger("impsy.gpio")

FLASH = 0.05  # seconds an activity LED stays lit after the last event
BOUNCE = 0.05  # seconds of switch bounce ignored after a press


def pin_factory(name: str | None) -> Any:
    """gpiozero's pin factory called name, or None to let gpiozero choose as it usually does."""
    if name is None:
        return None
    if name == "mock":
        from gpiozero.pins.mock import MockFactory

        return MockFactory()
    from importlib.metadata import entry_points

    from gpiozero.exc import BadPinFactory

    for entry in entry_points(group="gpiozero_pin_factories"):
        if entry.name == name:
            return entry.load()()
    raise BadPinFactory(f"gpiozero has no pin factory called {name!r}")


class _Flash:
    """An LED lit by events and put out FLASH seconds after the last one, by a loop timer."""

    def __init__(self, led: Any, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        self.led, self.loop, self.seconds = led, loop, seconds
        self._until = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def __call__(self) -> None:
        self._until = self.loop.time() + self.seconds
        if self._timer is None:
            self.led.on()
            self._timer = self.loop.call_later(self.seconds, self._check)

    def _check(self) -> None:
        left = self._until - self.loop.time()
        if left > 0:  # more events came: stay lit a little longer
            self._timer = self.loop.call_later(left, self._check)
        else:
            self._timer = None
            self.led.off()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class GpioChannel(Channel):
    """Buttons to commands, activity to LEDs."""

    name = "gpio"

    def __init__(self, config: GpioConfig, sink: Sink, dimension: int) -> None:
        self.config, self.sink = config, sink
        self.flash_seconds = FLASH
        self.bounce_seconds: float | None = BOUNCE
        self.factory: Any = None  # the pin factory in use, once started
        self.active = False  # False where there are no pins: then every method does nothing
        self._devices: list[Any] = []
        self._flashes: dict[str, _Flash] = {}
        self._playing_led: Any = None
        self._state: dict = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            self._setup()
        except Exception as error:  # no gpiozero, no pins, pin busy: never worth a crash
            for device in self._devices:
                close_quietly(device, "gpio")
            self._devices.clear()
            self._flashes.clear()
            self._playing_led = None
            log.warning(
                "gpio: no usable GPIO pins here (%s: %s); [gpio] buttons and LEDs are off",
                type(error).__name__,
                error,
            )
            return
        self.active = True
        log.info(
            "gpio: buttons %s, LEDs %s",
            ", ".join(f"{k}={v}" for k, v in self.config.buttons.items()) or "none",
            ", ".join(f"{k}={v}" for k, v in self.config.leds.items()) or "none",
        )

    def _setup(self) -> None:
        from gpiozero import LED, Button
        from gpiozero.exc import PinFactoryFallback

        with warnings.catch_warnings():  # one clear warning from us rather than gpiozero's list
            warnings.simplefilter("ignore", PinFactoryFallback)
            self.factory = pin_factory(self.config.pin_factory)
            for command, pin in self.config.buttons.items():
                button = Button(pin, pull_up=True, bounce_time=self.bounce_seconds, pin_factory=self.factory)
                self._devices.append(button)
                button.when_pressed = self._handler(command)
            for activity, pin in self.config.leds.items():
                led = LED(pin, pin_factory=self.factory)
                self._devices.append(led)
                if activity == "playing":
                    self._playing_led = led
                else:
                    self._flashes[activity] = _Flash(led, self._loop, self.flash_seconds)
        if self.factory is None and self._devices:
            self.factory = self._devices[0].pin_factory

    def _handler(self, command: str):
        loop = self._loop

        def pressed() -> None:  # on gpiozero's thread
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self._pressed, command)

        return pressed

    def _pressed(self, command: str) -> None:
        if command == "mode":
            current = self._state.get("mode")
            following = MODES[(MODES.index(current) + 1) % len(MODES)] if current in MODES else MODES[0]
            self._state["mode"] = following
            self.sink.command(self.name, "mode", following)
        elif command == "pause":
            paused = not self._state.get("paused", False)
            self._state["paused"] = paused
            self.sink.command(self.name, "pause", paused)
        else:
            self.sink.command(self.name, "reset", None)

    def send(self, values: np.ndarray) -> None:
        flash = self._flashes.get("output")
        if flash is not None:
            flash()

    def monitor_input(self, values: np.ndarray) -> None:
        flash = self._flashes.get("input")
        if flash is not None:
            flash()

    def report(self, state: dict) -> None:
        self._state = dict(state)
        if self._playing_led is not None:
            if state.get("playing"):
                self._playing_led.on()
            else:
                self._playing_led.off()

    async def close(self) -> None:
        for flash in self._flashes.values():
            flash.cancel()
        for device in self._devices:
            if hasattr(device, "off"):
                try:
                    device.off()
                except Exception as error:
                    log.debug("gpio: %s", error)
            close_quietly(device, "gpio")
        self._devices.clear()
        self.active = False

"""[serial]: comma-separated values over a serial port (micro:bit, Arduino, Pico).

In: one line per gesture, `dimension - 1` numbers from 0 to 1 separated by commas, ended by
a newline ("\\n" or "\\r\\n"), e.g. `0.25,0.5,1` for dimension 4, each number written as the
log format writes them (impsy.logs.read_number: `0.5`, `1`, `1e-3`). Spaces around numbers are
fine; blank lines are ignored; any other line that does not fit is dropped and counted.
Out: the same, each number with 4 decimals: `0.2500,0.5000,1.0000\\n`.

The port is held by a SerialLink, which [serialmidi] shares: on POSIX its file descriptor
is watched by the event loop (no thread, no polling); elsewhere a reader thread blocks on
it. A port that is missing at start, or vanishes (a micro:bit unplugged: a read error or
end of file), is closed and opened again once it is back, tried every RETRY_INTERVAL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable

import numpy as np
import serial as pyserial

from impsy.channels.base import Channel, Sink, check_vector
from impsy.config import SerialConfig
from impsy.logs import read_number

log = logging.getLogger("impsy.serial")

RETRY_INTERVAL = 1.0  # seconds between attempts to open a missing port
MAX_PENDING_OUTPUT = 8192  # bytes waiting for a slow port; beyond this, new output is dropped
MAX_LINE = 1024  # bytes without a newline: not a line from any instrument, so dropped
READ_SIZE = 4096


class SerialLink:
    """One serial port, kept open for as long as the channel runs, whatever the cable does.

    Bytes read are handed to on_data on the event loop's thread. on_open and on_lost are
    called (on the loop) whenever the port opens or goes away.
    """

    def __init__(
        self,
        port: str,
        baudrate: int,
        on_data: Callable[[bytes], None],
        name: str,
        on_open: Callable[[], None] | None = None,
        on_lost: Callable[[], None] | None = None,
        threaded: bool | None = None,
    ) -> None:
        self.port, self.baudrate, self.name = port, baudrate, name
        self.on_data = on_data
        self.on_open = on_open or (lambda: None)
        self.on_lost = on_lost or (lambda: None)
        # Event-driven on POSIX; a reader thread where the loop cannot watch the port (Windows).
        self.threaded = os.name != "posix" if threaded is None else threaded
        self.opened = 0  # times the port has been opened
        self.overflows = 0  # output writes dropped because the port was not taking data
        self._serial: pyserial.Serial | None = None
        self._fd: int | None = None
        self._pending = bytearray()  # output waiting for the port
        self._writing = False  # a writer callback is registered
        self._reader: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._last_problem: str | None = None
        self._closed = False

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if not self._open():
            log.warning(
                "%s: cannot open %s (%s); IMPSY will open it when it is there",
                self.name,
                self.port,
                self._last_problem,
            )
            self._schedule_retry()

    def _open(self) -> bool:
        try:
            port = pyserial.Serial(
                self.port,
                self.baudrate,
                timeout=None if self.threaded else 0,
                write_timeout=0,
                exclusive=True if os.name == "posix" else None,
            )
        except (OSError, ValueError, pyserial.SerialException) as error:
            problem = getattr(error, "strerror", None) or str(error)
            if problem != self._last_problem and self._last_problem is not None:
                log.warning("%s: cannot open %s: %s", self.name, self.port, problem)
            self._last_problem = problem
            return False
        self._last_problem = None
        with contextlib.suppress(OSError, pyserial.SerialException):
            port.reset_input_buffer()  # whatever piled up while nobody listened is stale
        self._serial = port
        self.opened += 1
        if not self.threaded:
            try:
                self._fd = port.fileno()
                self._loop.add_reader(self._fd, self._readable)
            except (NotImplementedError, AttributeError, ValueError):
                self._fd = None
                self.threaded = True
        if self.threaded:
            port.timeout = None
            self._reader = threading.Thread(
                target=self._read_thread, args=(port,), name=f"impsy-{self.name}-reader", daemon=True
            )
            self._reader.start()
        log.info("%s: opened %s at %d baud", self.name, self.port, self.baudrate)
        self.on_open()
        return True

    def _schedule_retry(self) -> None:
        if not self._closed:
            self._retry = self._loop.call_later(RETRY_INTERVAL, self._try_again)

    def _try_again(self) -> None:
        self._retry = None
        if not self._closed and self._serial is None and not self._open():
            self._schedule_retry()

    # -- reading ------------------------------------------------------------------------------

    def _readable(self) -> None:
        """The loop says the port has something: data, or the news that it is gone."""
        try:
            data = os.read(self._fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as error:
            self._lost(error.strerror or str(error))
            return
        if not data:
            self._lost("end of file")
            return
        self.on_data(data)

    def _read_thread(self, port: pyserial.Serial) -> None:
        """The fallback: block on the port in a thread and hand data to the loop."""
        while True:
            try:
                data = port.read(1)
                if port.in_waiting:
                    data += port.read(port.in_waiting)
            except (OSError, TypeError, pyserial.SerialException) as error:
                if self._serial is port:  # not closed by us
                    self._call_soon(self._lost, str(error) or "read failed", port)
                return
            if self._serial is not port:
                return
            if data:
                self._call_soon(self._deliver, data, port)

    def _call_soon(self, function: Callable, *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed
            self._loop.call_soon_threadsafe(function, *args)

    def _deliver(self, data: bytes, port: pyserial.Serial) -> None:
        if self._serial is port:
            self.on_data(data)

    def _lost(self, reason: str, port: pyserial.Serial | None = None) -> None:
        if self._serial is None or (port is not None and port is not self._serial):
            return
        log.warning(
            "%s: %s went away (%s); IMPSY will reopen it when it is back", self.name, self.port, reason
        )
        self._shut()
        self.on_lost()
        self._schedule_retry()

    def _shut(self) -> None:
        port, self._serial = self._serial, None
        if self._fd is not None:
            self._loop.remove_reader(self._fd)
            if self._writing:
                self._loop.remove_writer(self._fd)
            self._fd = None
        self._writing = False
        self._pending.clear()
        if port is not None:
            try:
                if self.threaded:
                    port.cancel_read()
                port.close()
            except (OSError, pyserial.SerialException) as error:
                log.debug("%s: closing %s: %s", self.name, self.port, error)
        reader, self._reader = self._reader, None
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout=1)

    # -- writing ------------------------------------------------------------------------------

    @property
    def room(self) -> int:
        """Bytes write() will still take (0 while the port is closed)."""
        return MAX_PENDING_OUTPUT - len(self._pending) if self._serial is not None else 0

    def write(self, data: bytes, force: bool = False) -> bool:
        """Queue data for the port without ever blocking; False if it could not be taken.

        Beyond MAX_PENDING_OUTPUT waiting bytes new data is refused (the device is not
        reading, and stale gestures are worth nothing), unless `force` (note offs).
        """
        if self._serial is None:
            return False
        if not force and len(self._pending) + len(data) > MAX_PENDING_OUTPUT:
            self.overflows += 1
            return False
        self._pending += data
        self._flush()
        return True

    def _flush(self) -> None:
        if self._serial is None or not self._pending:
            return
        try:
            if self._fd is not None:
                written = os.write(self._fd, self._pending)
            else:
                written = self._serial.write(bytes(self._pending)) or 0
        except (BlockingIOError, pyserial.SerialTimeoutException):
            written = 0
        except (OSError, pyserial.SerialException) as error:
            self._lost(getattr(error, "strerror", None) or str(error))
            return
        del self._pending[:written]
        if self._fd is not None:
            if self._pending and not self._writing:
                self._loop.add_writer(self._fd, self._flush)
                self._writing = True
            elif not self._pending and self._writing:
                self._loop.remove_writer(self._fd)
                self._writing = False
        elif self._pending and not self._writing:  # thread mode: retry soon rather than block
            self._writing = True
            self._loop.call_later(0.01, self._flush_later)

    def _flush_later(self) -> None:
        self._writing = False
        self._flush()

    def close(self) -> None:
        """Stop retrying; send what is still queued if the port takes it at once; close."""
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
        if self._serial is not None and self._pending:
            self._flush()
        self._shut()


class SerialChannel(Channel):
    """CSV lines in and out."""

    name = "serial"

    def __init__(
        self, config: SerialConfig, sink: Sink, dimension: int, threaded: bool | None = None
    ) -> None:
        self.config, self.sink, self.width = config, sink, dimension - 1
        self.link = SerialLink(
            config.port, config.baudrate, self._data, self.name, on_open=self._reset, threaded=threaded
        )
        self._buffer = bytearray()
        self._skipping = False  # inside an overlong line: wait for its end

    async def start(self) -> None:
        await self.link.start()

    def _reset(self) -> None:
        self._buffer.clear()
        self._skipping = False

    def _data(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if self._skipping:  # the end of an overlong line, already counted
                self._skipping = False
            elif len(line) > MAX_LINE:
                self._too_long()
            else:
                self._line(line)
        if len(self._buffer) > MAX_LINE:
            if not self._skipping:
                self._too_long()
            self._buffer.clear()
            self._skipping = True

    def _too_long(self) -> None:
        self.sink.dropped(self.name, f"a line longer than {MAX_LINE} bytes (is the baud rate right?)")

    def _line(self, raw: bytes) -> None:
        try:
            text = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            self.sink.dropped(self.name, f"not text: {raw[:24]!r} (is the baud rate right?)")
            return
        if not text:
            return
        try:
            numbers = [read_number(field.strip()) for field in text.split(",")]
        except ValueError as error:
            self.sink.dropped(self.name, f"{text[:40]!r}: {error}")
            return
        values = check_vector(numbers, self.width)
        if isinstance(values, str):
            self.sink.dropped(self.name, f"{text[:40]!r}: {values}")
        else:
            self.sink.vector(self.name, values)

    def send(self, values: np.ndarray) -> None:
        clipped = np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0)
        self.link.write((",".join(f"{v:.4f}" for v in clipped) + "\n").encode("ascii"))

    async def close(self) -> None:
        self.link.close()

"""The HTTP server: a WSGI server from the standard library, made to survive slow and many clients.

- One thread reads request heads for every connection at once (a selector), so a client that
  sends half a request, or nothing, holds no worker: it is dropped after HEAD_TIMEOUT, and when
  more than MAX_WAITING wait, the oldest goes.
- A complete request goes to a fixed pool of WORKERS threads (no thread per connection: each
  new thread cost memory that was never given back); when all are busy and QUEUE_LENGTH more
  wait, it is answered 503 at once.
- Sockets of requests being served time out after IO_TIMEOUT without progress (a half-sent
  body, a browser that stopped reading a stream).
- The listen backlog is BACKLOG, not socketserver's 5.
"""

from __future__ import annotations

import contextlib
import io
import logging
import queue
import selectors
import socket
import threading
import time
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

log = logging.getLogger("impsy.web")

WORKERS = 24  # requests served at once; live streams take one each (see streams.py)
QUEUE_LENGTH = 32  # complete requests waiting for a worker
HEAD_TIMEOUT = 10.0  # seconds for a request line and headers to arrive
IO_TIMEOUT = 30.0  # seconds without progress while a request is served
MAX_HEAD = 64 * 1024
MAX_WAITING = 256  # connections whose heads are still arriving
BACKLOG = 128

_BUSY = b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 1\r\n\r\nbusy\n"
_TOO_LARGE = b"HTTP/1.0 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\n\r\n"


class _Replay(io.RawIOBase):
    """A socket to read from, with the bytes already read from it (the head) given back first."""

    def __init__(self, head: bytes, sock: socket.socket) -> None:
        self._head = memoryview(head)
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        return self._sock.recv_into(buffer)


class _Writer(io.RawIOBase):
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._sock.sendall(data)
        return len(data)


class QuietHandler(WSGIRequestHandler):
    """Serves one request whose head the server has read; logs refused and failed ones only
    (every page view in the journal is noise)."""

    def setup(self) -> None:
        sock, head = self.request
        self.request = self.connection = sock
        sock.settimeout(IO_TIMEOUT)
        self.rfile = io.BufferedReader(_Replay(head, sock))
        self.wfile = _Writer(sock)

    def log_request(self, code="-", size="-") -> None:
        if str(code)[:1] in "45":
            log.info('%s "%s" %s', self.client_address[0], self.requestline, code)

    def log_message(self, format: str, *args) -> None:
        log.debug("%s %s", self.client_address[0], format % args)

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError):  # a client went away or stalled
            super().handle()


class PooledWSGIServer(WSGIServer):
    """serve_forever() reads heads on the calling thread and serves requests on the pool."""

    request_queue_size = BACKLOG
    allow_reuse_address = True

    def __init__(self, address: tuple, handler=QuietHandler, workers: int = WORKERS) -> None:
        self._ready: queue.Queue[tuple[socket.socket, tuple, bytes] | None] = queue.Queue(QUEUE_LENGTH)
        self._stop = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._workers = [
            threading.Thread(target=self._work, name=f"impsy-web-{n}", daemon=True) for n in range(workers)
        ]
        super().__init__(address, handler)  # closes what is above if it cannot listen
        for worker in self._workers:
            worker.start()

    # -- the head reader (the thread that calls serve_forever) --

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        waiting: dict[socket.socket, tuple[tuple, bytearray, float]] = {}
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=min(poll_interval, 1.0)):
                    if key.fileobj is self.socket:
                        self._accept(selector, waiting)
                    elif key.fileobj is not self._wake_r:
                        self._read_head(key.fileobj, selector, waiting)
                self._expire(selector, waiting)
            for sock in list(waiting):
                self._drop(sock, selector, waiting)

    def _accept(self, selector, waiting) -> None:
        try:
            sock, address = self.socket.accept()
        except OSError:
            return
        sock.setblocking(False)
        if len(waiting) >= MAX_WAITING:  # the oldest is the likeliest to be stalled
            self._drop(min(waiting, key=lambda s: waiting[s][2]), selector, waiting)
        waiting[sock] = (address, bytearray(), time.monotonic() + HEAD_TIMEOUT)
        selector.register(sock, selectors.EVENT_READ)

    def _read_head(self, sock: socket.socket, selector, waiting) -> None:
        address, head, _ = waiting[sock]
        try:
            data = sock.recv(MAX_HEAD)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(sock, selector, waiting)
            return
        head += data
        if b"\r\n\r\n" not in head and b"\n\n" not in head:
            if len(head) > MAX_HEAD:
                self._drop(sock, selector, waiting, _TOO_LARGE)
            return
        selector.unregister(sock)
        del waiting[sock]
        sock.setblocking(True)
        try:
            self._ready.put_nowait((sock, address, bytes(head)))
        except queue.Full:
            _answer_and_close(sock, _BUSY)

    def _expire(self, selector, waiting) -> None:
        now = time.monotonic()
        for sock in [s for s, (_, _, deadline) in waiting.items() if deadline < now]:
            self._drop(sock, selector, waiting)

    @staticmethod
    def _drop(sock: socket.socket, selector, waiting, answer: bytes = b"") -> None:
        selector.unregister(sock)
        del waiting[sock]
        _answer_and_close(sock, answer)

    # -- the pool --

    def _work(self) -> None:
        while (job := self._ready.get()) is not None:
            sock, address, head = job
            try:
                self.RequestHandlerClass((sock, head), address, self)
            except Exception:
                log.exception("error serving %s", address[0])
            finally:
                _answer_and_close(sock)

    def shutdown(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def server_close(self) -> None:
        super().server_close()
        for _ in (w for w in self._workers if w.is_alive()):
            with contextlib.suppress(queue.Full):
                self._ready.put_nowait(None)
        self._wake_r.close()
        self._wake_w.close()


class IPv6PooledWSGIServer(PooledWSGIServer):
    address_family = socket.AF_INET6


def _answer_and_close(sock: socket.socket, answer: bytes = b"") -> None:
    with contextlib.suppress(OSError):
        if answer:
            sock.setblocking(False)
            sock.send(answer)
        sock.shutdown(socket.SHUT_WR)
    sock.close()

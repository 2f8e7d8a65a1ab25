"""The [osc] channel on its own, over real UDP sockets on loopback (the whole run: test_run_udp)."""

import asyncio
import socket

import numpy as np
from fakes.sink import RecordingSink, run
from pythonosc.osc_message import OscMessage
from udp_harness import free_udp_port

from impsy.channels.osc import OscChannel
from impsy.config import OscConfig


def test_a_client_named_by_host_name_is_resolved_once_and_reached():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.bind(("127.0.0.1", 0))
        client.settimeout(5)
        config = OscConfig("127.0.0.1", free_udp_port(), "localhost", client.getsockname()[1])
        channel = OscChannel(config, RecordingSink(), 3)

        async def go():
            await channel.start()
            try:
                assert channel._client == ("127.0.0.1", config.client_port)  # no lookup per send
                channel.send(np.array([0.25, 0.75]))
                await asyncio.sleep(0)
            finally:
                await channel.close()

        run(go())
        message = OscMessage(client.recv(1024))
        assert (message.address, message.params) == ("/impsy", [0.25, 0.75])


def test_an_unresolvable_client_is_a_warning_and_is_looked_up_again(caplog, monkeypatch):
    from impsy.channels import osc

    monkeypatch.setattr(osc, "RESOLVE_RETRY", 0.05)
    config = OscConfig("127.0.0.1", free_udp_port(), "no-such-host.invalid", 9)
    channel = OscChannel(config, RecordingSink(), 3)
    lookups = []

    async def go():
        loop = asyncio.get_running_loop()
        real = loop.getaddrinfo

        async def counted(*args, **kwargs):
            lookups.append(args[0])
            return await real(*args, **kwargs)

        loop.getaddrinfo = counted
        await channel.start()
        channel.send(np.array([0.25, 0.75]))  # no client yet: nothing sent, nothing looked up
        deadline = loop.time() + 5
        while len(lookups) < 3 and loop.time() < deadline:
            await asyncio.sleep(0.01)
        await channel.close()

    run(go())
    assert channel._client is None and len(lookups) >= 3  # at start, then every RESOLVE_RETRY
    assert caplog.text.count("cannot resolve client_ip 'no-such-host.invalid'") == 1

"""Inside the VM, in the "laptop" network namespace on the host side of the USB cable:
resolve impsypi.local over mDNS (as macOS or Windows would) and fetch the web UI.

Prints `mdns impsypi.local -> ADDRESS` and `http STATUS`; standard library only.
"""

import socket
import struct
import sys
import time
import urllib.request


def mdns_query(name: str, source: str, timeout: float = 10.0) -> str | None:
    query = struct.pack(">HHHHHH", 0, 0, 1, 0, 0, 0)
    for label in name.split("."):
        query += bytes([len(label)]) + label.encode()
    query += b"\0" + struct.pack(">HH", 1, 1)  # A, IN
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(source))
    # From a port other than 5353: a "legacy unicast" query, answered straight back to us.
    sock.bind((source, 0))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.sendto(query, ("224.0.0.251", 5353))
        sock.settimeout(1.0)
        try:
            reply = sock.recv(4096)
        except TimeoutError:
            continue
        address = first_a_record(reply)
        if address:
            return address
    return None


def skip_name(packet: bytes, pos: int) -> int:
    while True:
        length = packet[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:  # a compression pointer ends the name
            return pos + 2
        pos += 1 + length


def first_a_record(packet: bytes) -> str | None:
    questions, answers = struct.unpack(">HH", packet[4:8])
    pos = 12
    for _ in range(questions):
        pos = skip_name(packet, pos) + 4
    for _ in range(answers):
        pos = skip_name(packet, pos)
        rtype, _cls, _ttl, length = struct.unpack(">HHIH", packet[pos : pos + 10])
        pos += 10
        if rtype == 1 and length == 4:
            return socket.inet_ntoa(packet[pos : pos + 4])
        pos += length
    return None


def main() -> int:
    source, name = sys.argv[1], sys.argv[2]
    address = mdns_query(name, source)
    print(f"mdns {name} -> {address}", flush=True)
    if address is None:
        return 1
    try:
        with urllib.request.urlopen(f"http://{address}:4000/", timeout=30) as reply:
            print(f"http {reply.status}", flush=True)
    except OSError as error:
        # Refused still proves the cable, address and name work: nothing listens on 4000.
        print(f"http error {error}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

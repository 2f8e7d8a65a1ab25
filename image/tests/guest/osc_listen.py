"""Inside the VM: wait for one OSC message with the given address on a UDP port.

Prints READY once bound, then the first matching message as `/address v1 v2 ...`,
or nothing and exit status 1 after the timeout. Standard library only.
"""

import socket
import struct
import sys
import time


def parse(packet: bytes):
    end = packet.index(b"\0")
    address = packet[:end].decode()
    pos = (end + 4) & ~3
    end = packet.index(b"\0", pos)
    tags = packet[pos + 1 : end].decode()
    pos = (end + 4) & ~3
    values = []
    for tag in tags:
        if tag == "f":
            values.append(struct.unpack(">f", packet[pos : pos + 4])[0])
            pos += 4
        elif tag == "i":
            values.append(struct.unpack(">i", packet[pos : pos + 4])[0])
            pos += 4
    return address, values


def main() -> int:
    port, wanted, timeout = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    print("READY", flush=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            packet = sock.recv(65536)
        except TimeoutError:
            break
        try:
            address, values = parse(packet)
        except (ValueError, struct.error):
            continue
        if address == wanted:
            print(address, " ".join(f"{v:.3f}" for v in values), flush=True)
            return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())

"""Inside the VM as root, on the host side of the USB cable: look at the gadget as Windows does.

Windows asks a device for Microsoft OS descriptors before it configures it, and only ever uses
the configuration they point to; with the compatible ID RNDIS/5162001 it loads its own RNDIS
driver. This reads both descriptors through usbfs, then switches the device to its RNDIS
configuration (Windows' choice; Linux picked CDC ECM), moves that link into network namespace
"windows" and fetches the web UI over it. Finally the device goes back to the configuration
it had. Prints one `key value` line per finding; standard library only.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

VENDOR, PRODUCT = "1d6b", "0104"  # the gadget's ids (impsy-usb-gadget)
USBDEVFS_CONTROL = 0xC0185500  # _IOWR('U', 0, struct usbdevfs_ctrltransfer), 64-bit
# Windows would ask the Pi by DHCP; a fixed address in its subnet proves the same link.
NETNS, ADDRESS, PI = "windows", "10.12.194.14/28", "10.12.194.1"


def gadget_device() -> Path:
    for device in Path("/sys/bus/usb/devices").iterdir():
        ids = [device / "idVendor", device / "idProduct"]
        found = [path.read_text().strip() for path in ids if path.exists()]
        if found == [VENDOR, PRODUCT] and "dummy_hcd" in str(device.resolve()):
            return device
    raise SystemExit("no IMPSY gadget on dummy_hcd's bus")


def control(device: Path, request_type: int, request: int, value: int, index: int, length: int) -> bytes:
    """One control transfer on endpoint 0, as a host driver would send it."""
    bus, number = (int((device / name).read_text()) for name in ("busnum", "devnum"))
    buffer = ctypes.create_string_buffer(length)
    pointer = ctypes.addressof(buffer)
    transfer = struct.pack("=BBHHHI4xQ", request_type, request, value, index, length, 2000, pointer)
    node = f"/dev/bus/usb/{bus:03d}/{number:03d}"
    fd = os.open(node, os.O_RDWR)
    try:
        fcntl.ioctl(fd, USBDEVFS_CONTROL, transfer)  # the reply lands in `buffer`
    finally:
        os.close(fd)
    return buffer.raw


def os_descriptors(device: Path) -> tuple[str, int, str, str]:
    """(signature, vendor code) of the OS string; (compatible, sub-compatible) of interface 0."""
    string = control(device, 0x80, 6, 0x03EE, 0, 18)  # GET_DESCRIPTOR, string 0xEE
    signature = string[2:16].decode("utf-16-le", errors="replace")
    vendor_code = string[16]
    compat = control(device, 0xC0, vendor_code, 0, 4, 40)  # extended compat ID
    first = compat[16:40]
    compatible = first[2:10].rstrip(b"\0").decode(errors="replace")
    sub_compatible = first[10:18].rstrip(b"\0").decode(errors="replace")
    return signature, vendor_code, compatible, sub_compatible


def host_link(*drivers: str, timeout: float = 60) -> str | None:
    """The laptop-side network interface one of `drivers` made on dummy_hcd's bus."""

    def find() -> str | None:
        for net in Path("/sys/class/net").iterdir():
            bound = net / "device" / "driver"
            if "dummy_hcd" in str(net.resolve()) and bound.exists() and bound.resolve().name in drivers:
                return net.name
        return None

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if find():
            run("udevadm", "settle", "--timeout=30")  # udev renames it (usb2 -> enx...) first
            return find()
        time.sleep(0.5)
    return None


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def fetch_over(link: str) -> str:
    run("ip", "netns", "add", NETNS)
    run("ip", "link", "set", link, "netns", NETNS)
    run("ip", "-n", NETNS, "link", "set", link, "up")
    run("ip", "-n", NETNS, "addr", "add", ADDRESS, "dev", link)
    probe = f"import urllib.request as u; print(u.urlopen('http://{PI}:4000/', timeout=10).status)"
    deadline = time.monotonic() + 120  # NetworkManager gives usb0 its address once it has a link
    answer = "no answer"
    while time.monotonic() < deadline:
        done = run("ip", "netns", "exec", NETNS, "python3", "-c", probe)
        if done.returncode == 0:
            return done.stdout.strip()
        answer = (done.stderr.strip().splitlines() or ["no answer"])[-1]
        time.sleep(3)
    return answer


def main() -> int:
    device = gadget_device()
    signature, vendor_code, compatible, sub_compatible = os_descriptors(device)
    print(f"os-string {signature} vendor-code {vendor_code:#04x}", flush=True)
    print(f"compatible-id {compatible}/{sub_compatible}", flush=True)
    chosen = device / "bConfigurationValue"
    was = chosen.read_text().strip()
    print(f"linux chose configuration {was}", flush=True)
    status = "not tried"
    # The laptop side appears in the Pi's own namespace before it is moved out: no IPv6 on it
    # meanwhile, or avahi could hear the Pi's own announcements back and rename it.
    ipv6_default = Path("/proc/sys/net/ipv6/conf/default/disable_ipv6")
    ipv6_was = ipv6_default.read_text().strip()
    try:
        ipv6_default.write_text("1")
        chosen.write_text("1")  # what Windows takes: the configuration the OS descriptors name
        link = host_link("rndis_host")
        status = fetch_over(link) if link else "no rndis_host link"
        print(f"rndis {link} http {status}", flush=True)
    finally:
        run("ip", "netns", "delete", NETNS)
        chosen.write_text(was)
        host_link("cdc_ether", "cdc_subset")  # back, and without IPv6 until test-laptop moves it
        ipv6_default.write_text(ipv6_was)
    ok = (signature, compatible, sub_compatible, status) == ("MSFT100", "RNDIS", "5162001", "200")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

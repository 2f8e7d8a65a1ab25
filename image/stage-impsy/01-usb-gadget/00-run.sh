#!/bin/bash
# pi-gen sub-stage, run on the build host: which USB port is a device (the laptop
# cable) on which board. The firmware applies a [filter] section only on the boards
# it names (docs/appliance.md has the table; tests/test_boot_config.py reads this back).
#   Zero 2 W: its one data port in OTG mode: a USB instrument on an OTG adapter, or
#             the laptop cable (the adapter's ID pin picks).
#   4, 5:     the USB-C power port as a device; the USB-A ports stay hosts.
#   3B, 3B+:  nothing: DWC2 feeds the hub with Ethernet and all four USB ports, and
#             their micro-USB port only takes power.
set -euo pipefail

# Raspberry Pi OS keeps config.txt on the boot partition; a root without one (the
# emulated test) skips this and gets its device controller another way.
config_txt="${ROOTFS_DIR}/boot/firmware/config.txt"
if [ ! -f "${config_txt}" ]; then
	echo "no ${config_txt}: not a Raspberry Pi root, USB boot config left out"
	exit 0
fi
if grep -q '^# IMPSY: USB' "${config_txt}"; then
	exit 0
fi
cat >>"${config_txt}" <<'CONFIG'

# IMPSY: USB ports, per board (see /opt/impsy/docs/appliance.md)
[pi02]
dtoverlay=dwc2,dr_mode=otg
[pi4]
dtoverlay=dwc2,dr_mode=peripheral
[pi5]
dtoverlay=dwc2,dr_mode=peripheral
[all]
CONFIG

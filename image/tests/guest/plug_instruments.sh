#!/bin/bash
# TEST ONLY, inside the VM as root: "plug in" a micro:bit and a USB-MIDI keyboard.
# dummy_hcd has three controllers (stage-lite): the USB Ethernet gadget holds the first; a g_serial
# gadget with the micro:bit's USB ids takes the second, a configfs MIDI gadget the
# third. Their host sides then meet our udev rules just as real devices would.
set -euo pipefail

modprobe g_serial idVendor=0x0d28 idProduct=0x0204 iManufacturer=ARM iProduct=DAPLink

modprobe libcomposite
modprobe usb_f_midi
g=/sys/kernel/config/usb_gadget/impsy-test-midi
mkdir -p "$g"
echo 0x1235 >"$g/idVendor"
echo 0x0113 >"$g/idProduct"
mkdir -p "$g/strings/0x409" "$g/configs/c.1" "$g/functions/midi.usb0"
echo "Test Instruments" >"$g/strings/0x409/manufacturer"
echo "Test Keyboard" >"$g/strings/0x409/product"
echo "KB0001" >"$g/strings/0x409/serialnumber"
ln -s "$g/functions/midi.usb0" "$g/configs/c.1/"
udc="$(find /sys/class/udc -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | while read -r u; do
	[ "$(cat "/sys/class/udc/$u/state")" = "not attached" ] && echo "$u"
done | head -n1)"
echo "$udc" >"$g/UDC"

udevadm settle --timeout=30 || true
sleep 3
udevadm settle --timeout=30 || true
for link in /dev/impsy/*; do
	printf '%s -> %s %s\n' "$link" "$(readlink -f "$link")" "$(stat -L -c '%G %a' "$link")"
done
printf 'modemmanager-ignore %s\n' "$(udevadm info -q property -n /dev/impsy/microbit | grep -c '^ID_MM_DEVICE_IGNORE=1$')"
if sudo -u impsy python3 -c 'open("/dev/impsy/microbit", "r+b", buffering=0).close()'; then
	echo "impsy opens microbit: yes"
fi

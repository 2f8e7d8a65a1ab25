#!/bin/bash
# TEST ONLY: Debian's arm64 kernel and modules for qemu's virt machine, unpacked
# (not installed: its postinst would run mkinitramfs, over 10 minutes under
# emulation; the harness builds a tiny initrd instead), and busybox for that initrd.
# No -u: pi-gen's on_chroot expands $CAPSH_ARG, which is unset when SETFCAP=1.
set -eo pipefail

debs="${WORK_DIR}/test-debs"
rm -rf "${debs}" "${ROOTFS_DIR}/tmp/test-debs"
mkdir -p "${debs}" "${ROOTFS_DIR}/tmp/test-debs"
on_chroot <<'CHROOT'
cd /tmp/test-debs
kernel="$(apt-cache depends linux-image-arm64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
apt-get download "${kernel}" busybox-static
CHROOT
mv "${ROOTFS_DIR}"/tmp/test-debs/*.deb "${debs}/"
rmdir "${ROOTFS_DIR}/tmp/test-debs"
# Unpacked beside the root, then copied in: unpacking straight into it would replace
# the merged-/usr symlink /lib with a directory.
unpacked="${WORK_DIR}/test-kernel"
rm -rf "${unpacked}"
dpkg-deb -x "${debs}"/linux-image-*.deb "${unpacked}"
mkdir -p "${ROOTFS_DIR}/usr/lib/modules"
cp -a "${unpacked}/lib/modules/." "${ROOTFS_DIR}/usr/lib/modules/"
cp -a "${unpacked}/boot/." "${ROOTFS_DIR}/boot/"
rm -rf "${unpacked}"
version="$(basename "$(ls -d "${ROOTFS_DIR}"/usr/lib/modules/*/)")"
on_chroot <<<"depmod -a ${version}"

# The Pi's dwc2 stands in as dummy_hcd: a USB device controller, with a host port
# wired to it inside the VM, so the gadget gets a real link.
echo dummy_hcd >"${ROOTFS_DIR}/etc/modules-load.d/impsy-test-udc.conf"
# Three controllers: the USB Ethernet gadget, then a "micro:bit" and a "MIDI keyboard"
# that the test plugs in (guest/plug_instruments.sh) to meet our udev rules.
echo "options dummy_hcd num=3" >"${ROOTFS_DIR}/etc/modprobe.d/impsy-test-udc.conf"

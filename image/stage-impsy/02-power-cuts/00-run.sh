#!/bin/bash
# pi-gen sub-stage, run on the build host: survive a power cut on stage.
# What survives is written up in docs/appliance.md ("Power cuts").
set -euo pipefail

# Repair the root file system at boot without asking (Raspberry Pi OS has it;
# make sure a changed cmdline.txt keeps it).
cmdline="${ROOTFS_DIR}/boot/firmware/cmdline.txt"
if [ -f "${cmdline}" ] && ! grep -q 'fsck.repair=yes' "${cmdline}"; then
	sed -i '1 s/$/ fsck.repair=yes/' "${cmdline}"
fi

# Write dirty file data out within about 4 s instead of 30 s (the kernel's default):
# an appended log row reaches the card, and ext4's 5 s journal commit makes it stick,
# about 10 s after it was written. Logs are a few rows a second: little extra wear.
cat >"${ROOTFS_DIR}/etc/sysctl.d/90-impsy-power-cuts.conf" <<'SYSCTL'
vm.dirty_expire_centisecs = 300
vm.dirty_writeback_centisecs = 100
SYSCTL

# The journal is kept on disk and flushed every 10 s by systemd/impsy-journald.conf
# (installed by 00-impsy); journald creates /var/log/journal itself.

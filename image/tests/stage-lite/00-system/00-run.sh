#!/bin/bash
# TEST ONLY: what pi-gen's stage1/stage2 do that our stage relies on: hostname, the
# first user (password, SSH key), SSH on, root locked, an fstab for the VM's disk.
# No -u: pi-gen's on_chroot expands $CAPSH_ARG, which is unset when SETFCAP=1.
set -eo pipefail

echo "${TARGET_HOSTNAME}" >"${ROOTFS_DIR}/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "${TARGET_HOSTNAME}" >"${ROOTFS_DIR}/etc/hosts"
printf '/dev/vda\t/\text4\tdefaults,noatime\t0\t1\n' >"${ROOTFS_DIR}/etc/fstab"

on_chroot <<CHROOT
apt-get update -qq
# Raspberry Pi OS Lite has a system gpiozero: the image's venv must not import it.
apt-get install -y -qq --no-install-recommends python3-gpiozero >/dev/null
if ! id -u "${FIRST_USER_NAME}" >/dev/null 2>&1; then
	adduser --disabled-password --gecos "" "${FIRST_USER_NAME}"
fi
for g in sudo adm audio dialout plugdev netdev; do
	getent group "\$g" >/dev/null && usermod -aG "\$g" "${FIRST_USER_NAME}"
done
if [ -n "${FIRST_USER_PASS}" ]; then
	echo "${FIRST_USER_NAME}:${FIRST_USER_PASS}" | chpasswd
fi
usermod --lock root
if [ "${ENABLE_SSH}" = 1 ]; then systemctl enable ssh; fi
CHROOT

if [ -n "${PUBKEY_SSH_FIRST_USER}" ]; then
	home="${ROOTFS_DIR}/home/${FIRST_USER_NAME}"
	install -d -m 700 "${home}/.ssh"
	echo "${PUBKEY_SSH_FIRST_USER}" >"${home}/.ssh/authorized_keys"
	chmod 600 "${home}/.ssh/authorized_keys"
	on_chroot <<<"chown -R ${FIRST_USER_NAME}: /home/${FIRST_USER_NAME}/.ssh"
fi
if [ "${PUBKEY_ONLY_SSH}" = 1 ]; then
	printf 'PasswordAuthentication no\n' >"${ROOTFS_DIR}/etc/ssh/sshd_config.d/10-pubkey-only.conf"
fi

# Raspberry Pi OS gives group gpio the GPIO chips (raspberrypi-sys-mods' udev rules); our
# stage adds user impsy to that group, and the GPIO check opens the VM's PL061 chip as impsy.
on_chroot <<<"getent group gpio >/dev/null || groupadd --system gpio"
printf 'SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"\n' \
	>"${ROOTFS_DIR}/etc/udev/rules.d/99-test-gpio.rules"

# The harness drives the VM through sudo over SSH (modprobe, journalctl).
echo "${FIRST_USER_NAME} ALL=(ALL) NOPASSWD: ALL" >"${ROOTFS_DIR}/etc/sudoers.d/010-test-nopasswd"
chmod 440 "${ROOTFS_DIR}/etc/sudoers.d/010-test-nopasswd"

# The other end of the USB cable is a laptop, not part of the Pi: move the host side
# of the VM's dummy_hcd link (cdc_ether or rndis_host) into its own network namespace
# "laptop" before avahi starts, or avahi would hear itself on both ends and rename the Pi.
# There a stock NetworkManager asks for an address by DHCP, as a laptop does.
install -m 755 files/test-laptop "${ROOTFS_DIR}/usr/local/sbin/test-laptop"
cat >"${ROOTFS_DIR}/etc/systemd/system/test-laptop.service" <<'UNIT'
[Unit]
Description=TEST ONLY: the laptop side of the USB cable, in network namespace "laptop"
After=systemd-modules-load.service systemd-udevd.service
Before=avahi-daemon.service

[Service]
# Ready once the laptop's NetworkManager has forked.
Type=forking
TimeoutStartSec=180
ExecStart=/usr/local/sbin/test-laptop

[Install]
WantedBy=multi-user.target
UNIT
on_chroot <<<"systemctl enable test-laptop.service"

# A performer playing from power-on, to time IMPSY's first answer (boot_checks.py reads it).
install -m 755 files/test-first-sound "${ROOTFS_DIR}/usr/local/sbin/test-first-sound"
cat >"${ROOTFS_DIR}/etc/systemd/system/test-first-sound.service" <<'UNIT'
[Unit]
Description=TEST ONLY: play into IMPSY from power-on and time its first answer
DefaultDependencies=no
After=local-fs.target

[Service]
Type=simple
ExecStart=/usr/local/sbin/test-first-sound

[Install]
WantedBy=multi-user.target
UNIT
on_chroot <<<"systemctl enable test-first-sound.service"

#!/bin/bash
# TEST ONLY: stands in for pi-gen's stage0-2 (Raspberry Pi OS Lite), which needs the
# Raspberry Pi archive. A Debian bookworm arm64 root with what Lite has and our
# stage relies on, debootstrapped once and cached (keyed by what goes into it).
set -euo pipefail

packages="systemd-sysv,libpam-systemd,udev,dbus,kmod,iproute2,openssh-server,sudo,avahi-daemon,network-manager,python3,ca-certificates,less,rsync"
mirror="${IMPSY_TEST_MIRROR:-http://deb.debian.org/debian}"
cache_dir="${IMPSY_TEST_CACHE:-${WORK_DIR}/cache}"
key="$(printf '%s\n' "v1" "${RELEASE}" "${mirror}" "${packages}" | sha256sum | cut -c1-16)"
cache="${cache_dir}/base-${RELEASE}-arm64-${key}.tar.zst"
tar_flags=(--numeric-owner --xattrs --xattrs-include='*' --acls --zstd)

mkdir -p "${cache_dir}" "${ROOTFS_DIR}"
if [ -f "${cache}" ]; then
	log "base root from cache ${cache}"
	tar "${tar_flags[@]}" -xpf "${cache}" -C "${ROOTFS_DIR}"
else
	log "debootstrap ${RELEASE} arm64 (about 6 minutes under emulation)"
	debootstrap --arch=arm64 --variant=minbase --include="${packages}" \
		"${RELEASE}" "${ROOTFS_DIR}" "${mirror}"
	tar "${tar_flags[@]}" -cpf "${cache}.part" -C "${ROOTFS_DIR}" .
	mv "${cache}.part" "${cache}"
	# Older bases are dead weight.
	find "${cache_dir}" -name 'base-*.tar.zst' ! -path "${cache}" -delete
fi
# pi-gen's on_chroot brings no DNS: its stage0 root keeps the build host's resolv.conf from
# debootstrap, and export-image's 03-network replaces it.
cp /etc/resolv.conf "${ROOTFS_DIR}/etc/resolv.conf"

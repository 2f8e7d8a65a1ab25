#!/bin/bash
# shellcheck disable=SC2119,SC2120  # on_chroot takes its script on stdin, as in pi-gen
# A small stand-in for pi-gen's build.sh, so the same stage files serve real pi-gen
# and this emulated test. It follows pi-gen's order and variables: for each stage
# of STAGE_LIST, prerun.sh, then each sub-stage NN-name/ (unless it holds a SKIP
# file) with, for NN = 00..99: NN-debconf, NN-packages-nr, NN-packages,
# NN-run.sh (on the host, in the sub-stage directory, with ROOTFS_DIR set) and
# NN-run-chroot.sh (fed to bash inside the root). Quilt patches are not supported.
#
#   pigen-run.sh -c CONFIG    (WORK_DIR and STAGE_LIST may come from the environment)
set -euo pipefail

config=""
while getopts "c:" opt; do
	case "${opt}" in
	c) config="${OPTARG}" ;;
	*) exit 2 ;;
	esac
done
[ -n "${config}" ] || { echo "usage: $0 -c CONFIG" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "$0: needs root (chroot, mounts)" >&2; exit 1; }

# shellcheck source-path=SCRIPTDIR source=../config
source "${config}"

export BASE_DIR="${BASE_DIR:-$(pwd)}"
export WORK_DIR="${WORK_DIR:?set WORK_DIR}"
export CLEAN="${CLEAN:-1}" USE_QEMU="${USE_QEMU:-0}" RELEASE="${RELEASE:-bookworm}"
export IMG_NAME TARGET_HOSTNAME FIRST_USER_NAME FIRST_USER_PASS PUBKEY_SSH_FIRST_USER
export PUBKEY_ONLY_SSH ENABLE_SSH LOCALE_DEFAULT TIMEZONE_DEFAULT DISABLE_FIRST_BOOT_USER_RENAME
export STAGE STAGE_DIR STAGE_WORK_DIR ROOTFS_DIR PREV_STAGE PREV_STAGE_DIR PREV_ROOTFS_DIR
export LOG_FILE="${WORK_DIR}/build.log"
mkdir -p "${WORK_DIR}"

log() {
	date +"[%T] $*" | tee -a "${LOG_FILE}"
}

unmount() {
	# Everything mounted at or below $1, deepest first.
	local target
	target="$(realpath -m "$1")"
	findmnt -rn -o TARGET | { grep -E "^${target}(/|$)" || true; } | sort -r | while read -r m; do
		umount -l "$m"
	done
}

on_chroot() {
	# pi-gen's on_chroot: the kernel file systems, the host's DNS for apt, then bash -e
	# inside the root with the script on stdin (pi-gen runs it through capsh the same way).
	local d
	for d in proc sys dev dev/pts; do
		mkdir -p "${ROOTFS_DIR}/${d}"
	done
	mountpoint -q "${ROOTFS_DIR}/proc" || mount -t proc proc "${ROOTFS_DIR}/proc"
	mountpoint -q "${ROOTFS_DIR}/sys" || mount --bind /sys "${ROOTFS_DIR}/sys"
	mountpoint -q "${ROOTFS_DIR}/dev" || mount --bind /dev "${ROOTFS_DIR}/dev"
	mountpoint -q "${ROOTFS_DIR}/dev/pts" || mount --bind /dev/pts "${ROOTFS_DIR}/dev/pts"
	if [ ! -e "${ROOTFS_DIR}/etc/resolv.conf" ] && [ ! -L "${ROOTFS_DIR}/etc/resolv.conf" ]; then
		cp /etc/resolv.conf "${ROOTFS_DIR}/etc/resolv.conf"
		touch "${ROOTFS_DIR}/etc/.resolv.conf-from-build-host"
	fi
	DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8 \
		chroot "${ROOTFS_DIR}" /bin/bash -e "$@"
}

copy_previous() {
	[ -d "${PREV_ROOTFS_DIR:-}" ] || { log "copy_previous: no previous stage"; return 1; }
	mkdir -p "${ROOTFS_DIR}"
	rsync -aHAXx --exclude /proc/ --exclude /sys/ --exclude /dev/ "${PREV_ROOTFS_DIR}/" "${ROOTFS_DIR}/"
	mkdir -p "${ROOTFS_DIR}"/{proc,sys,dev}
}
export -f log unmount on_chroot copy_previous

without_comments() {
	sed -e 's/#.*//' "$1" | tr -s '[:space:]' ' '
}

run_sub_stage() {
	log "Begin ${SUB_STAGE_DIR}"
	pushd "${SUB_STAGE_DIR}" >/dev/null
	local i packages
	for i in {00..99}; do
		if [ -f "${i}-debconf" ]; then
			log "Begin ${SUB_STAGE_DIR}/${i}-debconf"
			on_chroot <<<"debconf-set-selections <<'SELEOF'
$(cat "${i}-debconf")
SELEOF"
		fi
		if [ -f "${i}-packages-nr" ]; then
			packages="$(without_comments "${i}-packages-nr")"
			if [ -n "${packages// /}" ]; then
				log "Begin ${SUB_STAGE_DIR}/${i}-packages-nr"
				on_chroot <<<"apt-get -o APT::Acquire::Retries=3 install --no-install-recommends -y ${packages}"
			fi
		fi
		if [ -f "${i}-packages" ]; then
			packages="$(without_comments "${i}-packages")"
			if [ -n "${packages// /}" ]; then
				log "Begin ${SUB_STAGE_DIR}/${i}-packages"
				on_chroot <<<"apt-get -o APT::Acquire::Retries=3 install -y ${packages}"
			fi
		fi
		if [ -d "${i}-patches" ]; then
			echo "pigen-run.sh: ${SUB_STAGE_DIR}/${i}-patches: quilt patches are not supported here" >&2
			exit 1
		fi
		if [ -x "${i}-run.sh" ]; then
			log "Begin ${SUB_STAGE_DIR}/${i}-run.sh"
			"./${i}-run.sh"
		fi
		if [ -f "${i}-run-chroot.sh" ]; then
			log "Begin ${SUB_STAGE_DIR}/${i}-run-chroot.sh"
			on_chroot <"${i}-run-chroot.sh"
		fi
	done
	popd >/dev/null
	log "End ${SUB_STAGE_DIR}"
}

run_stage() {
	STAGE="$(basename "${STAGE_DIR}")"
	STAGE_WORK_DIR="${WORK_DIR}/${STAGE}"
	ROOTFS_DIR="${STAGE_WORK_DIR}/rootfs"
	log "Begin ${STAGE_DIR}"
	pushd "${STAGE_DIR}" >/dev/null
	unmount "${STAGE_WORK_DIR}"
	if [ ! -f SKIP ]; then
		if [ "${CLEAN}" = 1 ] && [ -d "${ROOTFS_DIR}" ]; then
			rm -rf --one-file-system "${ROOTFS_DIR}"
		fi
		if [ -x prerun.sh ]; then
			log "Begin ${STAGE_DIR}/prerun.sh"
			./prerun.sh
		fi
		for SUB_STAGE_DIR in "${STAGE_DIR}"/*; do
			if [ -d "${SUB_STAGE_DIR}" ] && [ ! -f "${SUB_STAGE_DIR}/SKIP" ]; then
				run_sub_stage
			fi
		done
	fi
	# pi-gen's export step runs without the build host's DNS.
	if [ -f "${ROOTFS_DIR}/etc/.resolv.conf-from-build-host" ]; then
		rm -f "${ROOTFS_DIR}/etc/resolv.conf" "${ROOTFS_DIR}/etc/.resolv.conf-from-build-host"
	fi
	unmount "${STAGE_WORK_DIR}"
	PREV_STAGE="${STAGE}"
	PREV_STAGE_DIR="${STAGE_DIR}"
	PREV_ROOTFS_DIR="${ROOTFS_DIR}"
	popd >/dev/null
	log "End ${STAGE_DIR}"
}

trap 'unmount "${WORK_DIR}"' EXIT
for STAGE_DIR in ${STAGE_LIST}; do
	STAGE_DIR="$(realpath "${STAGE_DIR}")"
	run_stage
done
# The last stage's root, for the caller (pi-gen would export an image from it).
echo "${ROOTFS_DIR}" >"${WORK_DIR}/rootfs-path"

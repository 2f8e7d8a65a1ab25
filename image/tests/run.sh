#!/bin/bash
# `make image-test`: lint the appliance layer, build an arm64 root with pi-gen's own
# build.sh and scripts (our Debian stand-in for its stages 0-2, then image/stage-impsy),
# boot it in qemu and check it from the host. Runs unattended as root on a clean Debian
# machine (CI) and installs its own host tools. Work and caches live in image/work/test/
# and image/work/cache/ (the debootstrapped base, reused between local runs).
# PI_GEN_SRC: a local copy of the pinned pi-gen release to use instead of cloning it
# (default: ../shared/pi-gen/<release> beside the checkout, when there is one).
set -euo pipefail

src="$(cd "$(dirname "$0")/../.." && pwd)"
work="${src}/image/work/test"
cache="${src}/image/work/cache"
here="${src}/image/tests"
started="$(date +%s)"

step() { echo "=== [$(($(date +%s) - started)) s] $*"; }

[ "$(id -u)" = 0 ] || { echo "image-test needs root (debootstrap, chroot, mounts); run it with sudo" >&2; exit 1; }

step "host tools"
"${here}/host-tools.sh"

step "lint: shellcheck, udev rules, sudoers"
"${here}/lint.sh" static

step "wheels for aarch64 Python 3.11"
"${src}/image/wheels.sh" "${src}/image/work/wheels" >/dev/null

# Nothing of a failed run may stay mounted in the work folder (rm -rf would follow a /dev bind).
unmount_work() {
	findmnt -rn -o TARGET | { grep -E "^${work}/" || true; } | sort -r | while read -r m; do
		umount -l "${m}"
	done
}
trap unmount_work EXIT

# A throwaway login for this run: the build requires a key or a password, as for users.
unmount_work
rm -rf --one-file-system "${work}"
mkdir -p "${work}" "${cache}"
ssh-keygen -q -t ed25519 -N "" -C "impsy-image-test" -f "${work}/id_test"
IMPSY_SSH_KEY="$(cat "${work}/id_test.pub")"
IMPSY_PASSWORD="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
export IMPSY_SSH_KEY IMPSY_PASSWORD IMPSY_USER=musician IMPSY_PUBKEY_ONLY=1
export IMPSY_SRC="${src}" IMPSY_WHEELS="${src}/image/work/wheels" IMPSY_TEST_CACHE="${cache}"
export WORK_DIR="${work}/pigen"

# pi-gen at the release image/build.sh pins, unmodified.
ref="$(cat "${src}/image/pi-gen-ref")"
pigen="${work}/pi-gen"
PI_GEN_SRC="${PI_GEN_SRC:-$(realpath -m "${src}/../shared/pi-gen/${ref}")}"
if [ -d "${PI_GEN_SRC}" ]; then
	cp -a "${PI_GEN_SRC}/." "${pigen}/"
else
	git clone --quiet --depth 1 --branch "${ref}" https://github.com/RPi-Distro/pi-gen.git "${pigen}"
fi
# What stands in for stages 0-2 (the Raspberry Pi archive is out of reach): a Debian root,
# with pi-gen's own stage1 boot files (config.txt, cmdline.txt), which need no archive.
cp -a "${here}/stage-lite" "${work}/stage-lite"
ln -s "${pigen}/stage1/00-boot-files" "${work}/stage-lite/00-boot-files"
# What stands in for pi-gen's export-image: its sub-stages that run here, and a prerun.sh
# that copies the root into a directory instead of a card image. Left out: the card image
# itself (prerun.sh: loop partitions and a vfat mount, which this kernel lacks),
# 01-user-rename (userconf-pi is in the Raspberry Pi archive only; the rename is off
# anyway), 04-set-partuuid (reads the card image's disk id) and 05-finalise (initramfs,
# zerofree and compression of the card image).
export_lite="${work}/export-lite"
mkdir -p "${export_lite}"
cp "${here}/export-lite/prerun.sh" "${export_lite}/"
for sub in 00-allow-rerun 02-set-sources 03-network; do
	ln -s "${pigen}/export-image/${sub}" "${export_lite}/${sub}"
done
export STAGE_LIST="${work}/stage-lite ${src}/image/stage-impsy" EXPORT_CONFIG_DIR="${export_lite}"

# SETFCAP=1: the path where pi-gen's on_chroot runs capsh with $CAPSH_ARG unset.
step "pi-gen ${ref} build.sh: ${STAGE_LIST}, then ${export_lite}"
(cd "${pigen}" && GIT_HASH="${ref}" SETFCAP=1 ./build.sh -c "${src}/image/config")
rootfs="${WORK_DIR}/export-lite/rootfs"

step "lint: systemd-analyze verify against the built root, NetworkManager rule order"
"${here}/lint.sh" root "${rootfs}"

step "disk image and initrd"
# pi-gen's export gives each card its own machine id on first boot.
: >"${rootfs}/etc/machine-id"
rm -f "${rootfs}/var/lib/dbus/machine-id"
size_mb=$(($(du -sm --exclude=./proc --exclude=./sys "${rootfs}" | cut -f1) + 700))
mkfs.ext4 -q -F -L rootfs -d "${rootfs}" "${work}/root.img" "${size_mb}M"
cp "$(ls "${rootfs}"/boot/vmlinuz-*)" "${work}/vmlinuz"
"${here}/make-initrd.sh" "${rootfs}" "$(ls "${WORK_DIR}"/test-debs/busybox-static_*.deb)" "${work}/initrd.gz"
build_seconds=$(($(date +%s) - started))

step "boot in qemu-system-aarch64 and check from the host"
set +e
python3 "${here}/boot_checks.py" --kernel "${work}/vmlinuz" --initrd "${work}/initrd.gz" \
	--disk "${work}/root.img" --key "${work}/id_test" --user "${IMPSY_USER}" \
	--console "${work}/console.log" | tee "${work}/checks.log"
status=${PIPESTATUS[0]}
set -e
echo "figure build (host tools to bootable disk): ${build_seconds} s"
echo "figure whole image test: $(($(date +%s) - started)) s"
echo "console: ${work}/console.log; service journal: ${work}/console.journal"
# The plain 'N passed, N failed' line closes the output.
grep -E '^[0-9]+ passed, [0-9]+ failed' "${work}/checks.log" | tail -n1 || echo "0 passed, 1 failed"
exit "${status}"

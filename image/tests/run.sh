#!/bin/bash
# `make image-test`: lint the appliance layer, build an arm64 root with
# image/stage-impsy through the pi-gen stand-in runner, boot it in qemu and check
# it from the host. Runs unattended as root on a clean Debian machine (CI) and
# installs its own host tools. Work and caches live in image/work/test/ and
# image/work/cache/ (the debootstrapped base, reused between local runs).
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

# A throwaway login for this run: the build requires a key or a password, as for users.
rm -rf "${work}"
mkdir -p "${work}" "${cache}"
ssh-keygen -q -t ed25519 -N "" -C "impsy-image-test" -f "${work}/id_test"
IMPSY_SSH_KEY="$(cat "${work}/id_test.pub")"
IMPSY_PASSWORD="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
export IMPSY_SSH_KEY IMPSY_PASSWORD IMPSY_USER=musician IMPSY_PUBKEY_ONLY=1
export IMPSY_SRC="${src}" IMPSY_WHEELS="${src}/image/work/wheels" IMPSY_TEST_CACHE="${cache}"
export WORK_DIR="${work}/pigen" STAGE_LIST="${here}/stage-lite ${src}/image/stage-impsy"

step "stages: ${STAGE_LIST}"
(cd "${work}" && "${here}/pigen-run.sh" -c "${src}/image/config")
rootfs="$(cat "${WORK_DIR}/rootfs-path")"

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

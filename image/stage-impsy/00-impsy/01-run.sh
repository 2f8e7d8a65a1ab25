#!/bin/bash
# pi-gen sub-stage, run on the build host in this directory: copy the runtime's
# wheels, the shipped models, the units and rules into the image.
set -euo pipefail

IMPSY_SRC="${IMPSY_SRC:-$(cd ../../.. && pwd)}"
IMPSY_WHEELS="${IMPSY_WHEELS:-${IMPSY_SRC}/image/work/wheels}"

if ! compgen -G "${IMPSY_WHEELS}/impsy-*.whl" >/dev/null || ! compgen -G "${IMPSY_WHEELS}/impsy_train-*.whl" >/dev/null; then
	echo "no impsy or impsy_train wheel in ${IMPSY_WHEELS}: run image/wheels.sh first" >&2
	exit 1
fi

# Wheels for the offline install in 02-run-chroot.sh (removed there).
rm -rf "${ROOTFS_DIR}/var/cache/impsy-wheels"
install -d "${ROOTFS_DIR}/var/cache/impsy-wheels"
install -m 644 "${IMPSY_WHEELS}"/*.whl "${ROOTFS_DIR}/var/cache/impsy-wheels/"

# A pristine copy of the shipped models and docs; /srv/impsy gets its own copies.
install -d "${ROOTFS_DIR}/opt/impsy/models" "${ROOTFS_DIR}/opt/impsy/docs" "${ROOTFS_DIR}/opt/impsy/bin"
# The models and their training reports; not the Keras files (training only).
for file in "${IMPSY_SRC}"/models/*.tflite "${IMPSY_SRC}"/models/*.report.*; do
	if [ -f "${file}" ]; then
		install -m 644 "${file}" "${ROOTFS_DIR}/opt/impsy/models/"
	fi
done
install -m 644 "${IMPSY_SRC}/docs/appliance.md" "${ROOTFS_DIR}/opt/impsy/docs/"

# `impsy check-config`, `impsy check` and friends for the SSH user.
# shellcheck disable=SC2016  # expanded at login, not here
printf 'PATH="${PATH}:/opt/impsy/venv/bin"\n' >"${ROOTFS_DIR}/etc/profile.d/impsy.sh"

install -m 644 "${IMPSY_SRC}/systemd/impsy-run.service" "${IMPSY_SRC}/systemd/impsy-web.service" \
	"${IMPSY_SRC}/systemd/impsy-train.service" "${IMPSY_SRC}/systemd/impsy-usb-gadget.service" \
	"${ROOTFS_DIR}/etc/systemd/system/"
install -d "${ROOTFS_DIR}/etc/systemd/journald.conf.d"
install -m 644 "${IMPSY_SRC}/systemd/impsy-journald.conf" "${ROOTFS_DIR}/etc/systemd/journald.conf.d/impsy.conf"
install -m 644 "${IMPSY_SRC}"/udev/*.rules "${ROOTFS_DIR}/etc/udev/rules.d/"

# Members of group impsy (the first user, the web UI) may start, stop and restart
# the IMPSY services without a password.
install -d -m 755 "${ROOTFS_DIR}/etc/polkit-1/rules.d"
install -m 644 files/50-impsy.rules "${ROOTFS_DIR}/etc/polkit-1/rules.d/"
install -m 440 files/impsy.sudoers "${ROOTFS_DIR}/etc/sudoers.d/impsy"

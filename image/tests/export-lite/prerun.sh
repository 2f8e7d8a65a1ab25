#!/bin/bash
# TEST ONLY: stands in for the prerun.sh of pi-gen's export-image. pi-gen's makes the card
# image (parted, loop partitions, a vfat boot partition mounted: this kernel has no vfat)
# and copies the last stage's root into it; this copies the root into a directory, from
# which the test makes its disk. run.sh links the export-image sub-stages that can run here.
set -euo pipefail
rm -rf "${ROOTFS_DIR}"
mkdir -p "${ROOTFS_DIR}"
rsync -aHAXx --exclude /var/cache/apt/archives "${EXPORT_ROOTFS_DIR}/" "${ROOTFS_DIR}/"

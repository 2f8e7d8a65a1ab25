#!/bin/bash
# pi-gen: start this stage from the previous stage's root (stage2, Raspberry Pi OS Lite).
set -euo pipefail
if [ ! -d "${ROOTFS_DIR}" ]; then
	copy_previous
fi

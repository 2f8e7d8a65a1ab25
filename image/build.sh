#!/bin/bash
# Build the IMPSY SD-card image with pi-gen: Raspberry Pi OS Lite (bookworm, arm64)
# plus image/stage-impsy. Needs root, a Debian or Ubuntu machine, and the Raspberry
# Pi package archive (archive.raspberrypi.com), PyPI and GitHub on the network.
#
#   sudo IMPSY_SSH_KEY="$(cat ~/.ssh/id_ed25519.pub)" ./image/build.sh
#   sudo IMPSY_PASSWORD='something only you know' ./image/build.sh
#
# Environment: IMPSY_PASSWORD and/or IMPSY_SSH_KEY (one is required), IMPSY_USER
# (default musician), IMPSY_PUBKEY_ONLY=1 (SSH keys only), PI_GEN_REF (the pi-gen
# tag or commit), PI_GEN_REPO. Output: image/work/pi-gen/deploy/impsy-<version>.img.xz
set -euo pipefail

src="$(cd "$(dirname "$0")/.." && pwd)"
work="${src}/image/work"
PI_GEN_REPO="${PI_GEN_REPO:-https://github.com/RPi-Distro/pi-gen.git}"
# Pinned in image/pi-gen-ref (the image test runs the same release): see docs/appliance.md.
PI_GEN_REF="${PI_GEN_REF:-$(cat "${src}/image/pi-gen-ref")}"

die() {
	echo "build.sh: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "pi-gen needs root (sudo)"
if [ -z "${IMPSY_PASSWORD:-}" ] && [ -z "${IMPSY_SSH_KEY:-}" ]; then
	die "no login: set IMPSY_PASSWORD or IMPSY_SSH_KEY (see docs/appliance.md); the image has no default password"
fi
if [ -n "${IMPSY_SSH_KEY:-}" ] && ! grep -qE '^(ssh-|ecdsa-|sk-)' <<<"${IMPSY_SSH_KEY}"; then
	die "IMPSY_SSH_KEY must be the text of a public key (ssh-ed25519 AAAA...), not a path"
fi
if [ -z "${IMPSY_PASSWORD:-}" ]; then
	# pi-gen wants a password when the first user is kept. Nobody knows this one:
	# SSH is by key only and `sudo systemctl restart impsy-run` needs none.
	IMPSY_PASSWORD="$(head -c 32 /dev/urandom | base64 | tr -d '/+=' | cut -c1-24)"
	IMPSY_PUBKEY_ONLY=1
fi
IMPSY_VERSION="$(cd "${src}" && python3 -c 'import impsy; print(impsy.__version__)')"
IMPSY_STAGE_DIR="${src}/image/stage-impsy"
IMPSY_WHEELS="${work}/wheels"
export IMPSY_PASSWORD IMPSY_PUBKEY_ONLY IMPSY_VERSION IMPSY_STAGE_DIR IMPSY_WHEELS IMPSY_SRC="${src}"
export IMPSY_SSH_KEY="${IMPSY_SSH_KEY:-}" IMPSY_USER="${IMPSY_USER:-musician}"

mkdir -p "${work}"
"${src}/image/wheels.sh" "${IMPSY_WHEELS}"

if [ ! -d "${work}/pi-gen/.git" ]; then
	git clone --quiet "${PI_GEN_REPO}" "${work}/pi-gen"
fi
git -C "${work}/pi-gen" fetch --quiet --tags origin
git -C "${work}/pi-gen" checkout --quiet --force "${PI_GEN_REF}" ||
	die "no pi-gen ref ${PI_GEN_REF}: pick a bookworm arm64 release tag or branch from \
'git ls-remote --tags ${PI_GEN_REPO}' and set PI_GEN_REF"
# Only our stage exports an image; Lite stays an intermediate step.
touch "${work}/pi-gen/stage2/SKIP_IMAGES"

cd "${work}/pi-gen"
./build.sh -c "${src}/image/config"
ls -l deploy/

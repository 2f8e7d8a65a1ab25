#!/bin/bash
# Build the runtime's and the trainer's wheels and download their dependencies as aarch64 wheels for the
# Pi's Python (3.11 on bookworm), so the image installs offline: pip cannot reach
# the network from inside the emulated chroot. Never TensorFlow: the runtime uses LiteRT.
#   image/wheels.sh [OUT_DIR]    (default image/work/wheels)
set -euo pipefail

src="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-${src}/image/work/wheels}"
python="${PYTHON:-python3}"
pyver="${IMPSY_PI_PYTHON:-3.11}"

rm -rf "${out}"
mkdir -p "${out}"
"${python}" -m pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir "${out}" "${src}" "${src}/train"
# python-rtmidi has only a manylinux_2_28 aarch64 wheel; bookworm's glibc 2.36 takes it.
"${python}" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
	--platform manylinux_2_28_aarch64 --platform manylinux_2_27_aarch64 \
	--platform manylinux_2_17_aarch64 --platform manylinux2014_aarch64 \
	--python-version "${pyver}" --implementation cp \
	--find-links "${out}" --dest "${out}" "${out}"/impsy-*.whl "${out}"/impsy_train-*.whl
# gpiozero's pin library for the venv. Its only aarch64 wheels are manylinux_2_34 (bookworm
# has glibc 2.36) for Python 3.11 and 3.12; 0.0.0.2 is an empty placeholder.
"${python}" -m pip download --quiet --disable-pip-version-check --only-binary=:all: --no-deps \
	--platform manylinux_2_34_aarch64 --python-version "${pyver}" --implementation cp \
	--dest "${out}" "lgpio>=0.2.2"

if compgen -G "${out}/tensorflow*" >/dev/null; then
	echo "wheels.sh: TensorFlow must never reach the Pi" >&2
	exit 1
fi
ls "${out}"

#!/bin/bash
# TEST ONLY: the host tools of `make image-test`, from Debian's archive, and
# binfmt_misc so arm64 programs run in the chroot through qemu-user-static.
set -euo pipefail

tools=(debootstrap qemu-user-static qemu-system-arm binfmt-support shellcheck e2fsprogs
	zstd xz-utils cpio rsync openssh-client sudo python3 python3-pip python3-venv systemd
	# what pi-gen's build.sh checks for (its depends file)
	quilt parted zerofree zip dosfstools libarchive-tools libcap2-bin curl xxd file git kmod bc
	gpg pigz arch-test)
missing=()
for pkg in "${tools[@]}"; do
	dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null | grep -q "ok installed" || missing+=("${pkg}")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
	mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
update-binfmts --enable qemu-aarch64 2>/dev/null || true
grep -q enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 ||
	{ echo "host-tools.sh: qemu-aarch64 binfmt is not enabled" >&2; exit 1; }

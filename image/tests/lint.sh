#!/bin/bash
# TEST ONLY: lint the appliance layer.
#   lint.sh static       shellcheck every script, udevadm verify the rules, visudo the sudoers
#   lint.sh root ROOTFS  systemd-analyze verify the units against the built root, and
#                        check that our NetworkManager rule sorts after the one it overrides
set -euo pipefail

src="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${src}/image/work/cache"

# systemd >= 254 (udevadm verify) from bookworm-backports, unpacked, not installed:
# a private apt state so the host's sources stay as they are.
backports_systemd() {
	local dir="${cache}/systemd-bpo" apt_opts
	if [ ! -x "${dir}/root/bin/udevadm" ]; then
		rm -rf "${dir}"
		mkdir -p "${dir}"/{lists/partial,archives/partial,root}
		echo "deb http://deb.debian.org/debian bookworm-backports main" >"${dir}/sources.list"
		apt_opts=(-o "Dir::Etc::sourcelist=${dir}/sources.list" -o "Dir::Etc::sourceparts=-"
			-o "Dir::State::lists=${dir}/lists" -o "Dir::Cache=${dir}" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
		apt-get -qq "${apt_opts[@]}" update
		(cd "${dir}" && apt-get -qq "${apt_opts[@]}" download \
			udev/bookworm-backports systemd/bookworm-backports libsystemd-shared/bookworm-backports)
		for deb in "${dir}"/*.deb; do
			dpkg-deb -x "${deb}" "${dir}/root"
		done
	fi
	echo "${dir}/root"
}

case "${1:-}" in
static)
	mapfile -t scripts < <(
		cd "${src}" && {
			find image systemd udev tests models .ci -path image/work -prune -o -type f -name '*.sh' -print
			grep -rlE '^#! ?(/usr)?/bin/(env )?(ba)?sh' image systemd udev tests models .ci \
				--exclude-dir=work --exclude-dir=__pycache__
		} | sort -u
	)
	(cd "${src}" && shellcheck -x "${scripts[@]}")
	(cd "${src}" && shellcheck -s bash image/config image/stage-impsy/EXPORT_IMAGE)
	echo "shellcheck: ${#scripts[@]} scripts clean"

	bpo="$(backports_systemd)"
	LD_LIBRARY_PATH="${bpo}/usr/lib/x86_64-linux-gnu/systemd" "${bpo}/bin/udevadm" verify \
		--resolve-names=never "${src}"/udev/*.rules
	visudo -c -q -f "${src}/image/stage-impsy/00-impsy/files/impsy.sudoers"
	echo "sudoers: ok"

	# No default password: the real build refuses to start without a login.
	if out="$(env -u IMPSY_PASSWORD -u IMPSY_SSH_KEY "${src}/image/build.sh" 2>&1)" ||
		! grep -q "no login" <<<"${out}"; then
		echo "image/build.sh built without IMPSY_PASSWORD or IMPSY_SSH_KEY: ${out}" >&2
		exit 1
	fi
	if out="$(env -u IMPSY_PASSWORD IMPSY_SSH_KEY="${HOME}/.ssh/id_ed25519.pub" "${src}/image/build.sh" 2>&1)" ||
		! grep -q "not a path" <<<"${out}"; then
		echo "image/build.sh took a path for IMPSY_SSH_KEY: ${out}" >&2
		exit 1
	fi
	echo "build.sh: refuses to build without a login"
	;;
root)
	rootfs="${2:?lint.sh root ROOTFS}"
	units=(impsy-run.service impsy-web.service impsy-train.service impsy-usb-gadget.service)
	bpo="$(backports_systemd)"
	out="$(cd "${rootfs}/etc/systemd/system" && LD_LIBRARY_PATH="${bpo}/usr/lib/x86_64-linux-gnu/systemd" \
		"${bpo}/usr/bin/systemd-analyze" verify --root="${rootfs}" --man=no "${units[@]}" 2>&1)" || {
		echo "${out}"
		exit 1
	}
	# Messages about units that are not ours are the distribution's business.
	if grep -E 'impsy' <<<"${out}"; then
		exit 1
	fi
	echo "systemd-analyze verify: ${units[*]} clean"

	nm_rule="$(find "${rootfs}/usr/lib/udev/rules.d" "${rootfs}/lib/udev/rules.d" -name '*-nm-unmanaged.rules' 2>/dev/null | head -n1)"
	[ -n "${nm_rule}" ] || { echo "no NetworkManager unmanaged rule in the root" >&2; exit 1; }
	ours="86-impsy-nm-usb-gadget.rules"
	[ -f "${rootfs}/etc/udev/rules.d/${ours}" ] || { echo "${ours} not installed" >&2; exit 1; }
	first="$(printf '%s\n' "$(basename "${nm_rule}")" "${ours}" | LC_ALL=C sort | head -n1)"
	[ "${first}" = "$(basename "${nm_rule}")" ] || { echo "${ours} sorts before $(basename "${nm_rule}")" >&2; exit 1; }
	echo "udev: ${ours} sorts after $(basename "${nm_rule}")"
	;;
*)
	echo "usage: $0 static | root ROOTFS" >&2
	exit 2
	;;
esac

#!/bin/bash
# TEST ONLY: a tiny initrd for qemu's virt machine, built on the host in well under
# a second (mkinitramfs under emulation takes over 10 minutes): busybox, the
# modules that reach an ext4 root on virtio-blk, and an /init that mounts it.
#   make-initrd.sh ROOTFS BUSYBOX_DEB OUT
set -euo pipefail

rootfs="$1" busybox_deb="$2" out="$3"
version="$(basename "$(ls -d "${rootfs}"/lib/modules/*/)")"
moddir="${rootfs}/lib/modules/${version}"
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT

mkdir -p "${tmp}"/{bin,dev,proc,sys,newroot,lib/modules}
dpkg-deb --fsys-tarfile "${busybox_deb}" | tar -x -C "${tmp}" ./bin/busybox
for applet in sh mount umount switch_root insmod sleep mkdir echo cat; do
	ln -s busybox "${tmp}/bin/${applet}"
done

# The wanted modules and everything they depend on, in load order (modules.dep).
declare -A seen=()
order=()
add_module() {
	local rel dep
	rel="$(awk -F: -v m="/$1.ko" '{ i = index($1, m) } i > 0 && i == length($1) - length(m) + 1 {print $1; exit}' "${moddir}/modules.dep")"
	if [ -z "${rel}" ]; then
		# Maybe the .ko has another compression suffix, or the module is built in.
		rel="$(awk -F: -v m="/$1.ko" 'index($1, m) {print $1; exit}' "${moddir}/modules.dep")"
	fi
	[ -n "${rel}" ] || return 0
	[ -z "${seen[${rel}]:-}" ] || return 0
	seen[${rel}]=1
	local deps=()
	read -ra deps <<<"$(awk -F: -v r="${rel}" '$1 == r {print $2}' "${moddir}/modules.dep")"
	for dep in "${deps[@]}"; do
		add_module "$(basename "${dep}" | sed -E 's/\.ko(\..*)?$//')"
	done
	order+=("${rel}")
}
for m in virtio_pci virtio_blk crc32c_generic ext4; do
	add_module "$m"
done

: >"${tmp}/modules.order"
for rel in "${order[@]}"; do
	name="$(basename "${rel}")"
	case "${name}" in
	*.ko.xz) xz -dc "${moddir}/${rel}" >"${tmp}/lib/modules/${name%.xz}"; name="${name%.xz}" ;;
	*.ko.zst) zstd -qdc "${moddir}/${rel}" >"${tmp}/lib/modules/${name%.zst}"; name="${name%.zst}" ;;
	*) cp "${moddir}/${rel}" "${tmp}/lib/modules/${name}" ;;
	esac
	echo "${name}" >>"${tmp}/modules.order"
done

cat >"${tmp}/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "/lib/modules/$m"; done </modules.order
i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
mount -t ext4 -o rw /dev/vda /newroot || { echo "initrd: cannot mount /dev/vda"; exec sh; }
umount /proc /sys
mount --move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot /sbin/init
INIT
chmod 755 "${tmp}/init"
(cd "${tmp}" && find . | cpio --quiet -o -H newc | gzip -1) >"${out}"
echo "initrd: ${#order[@]} modules for ${version}, $(du -h "${out}" | cut -f1)"

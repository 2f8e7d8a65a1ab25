#!/bin/bash
# pi-gen sub-stage, run on the build host: USB Ethernet over the laptop cable and
# the names the laptop finds it by (impsypi.local, _http._tcp, _osc._udp).
set -euo pipefail

install -m 755 files/impsy-usb-gadget "${ROOTFS_DIR}/opt/impsy/bin/"
# NetworkManager ignores keyfiles that others can read.
install -m 600 files/impsy-usb.nmconnection "${ROOTFS_DIR}/etc/NetworkManager/system-connections/"
install -D -m 644 files/impsy-usb-dnsmasq.conf "${ROOTFS_DIR}/etc/NetworkManager/dnsmasq-shared.d/impsy-usb.conf"
install -m 644 files/impsy-http.service files/impsy-osc.service "${ROOTFS_DIR}/etc/avahi/services/"
# mDNS over IPv4 only: avahi renames itself impsypi-2.local when an IPv6 address changes while
# it is probing (seen in the boot test when the VM's other link got its address), and the
# laptop then cannot find impsypi.local. Every laptop on the cable has IPv4 (DHCP).
sed -i 's/^#\?use-ipv6=.*/use-ipv6=no/; s/^#\?publish-aaaa-on-ipv4=.*/publish-aaaa-on-ipv4=no/' \
	"${ROOTFS_DIR}/etc/avahi/avahi-daemon.conf"
grep -q '^use-ipv6=no' "${ROOTFS_DIR}/etc/avahi/avahi-daemon.conf"

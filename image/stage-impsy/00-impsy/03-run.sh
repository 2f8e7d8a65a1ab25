#!/bin/bash
# pi-gen sub-stage: the first user (made by pi-gen's stage1) joins group impsy and
# finds the user's folder at ~/impsy.
# No -u: pi-gen's on_chroot expands $CAPSH_ARG, which is unset when SETFCAP=1.
set -eo pipefail
: "${FIRST_USER_NAME:?pi-gen sets FIRST_USER_NAME}"
on_chroot <<CHROOT
usermod -aG impsy,audio,dialout "${FIRST_USER_NAME}"
home="\$(getent passwd "${FIRST_USER_NAME}" | cut -d: -f6)"
ln -sfn /srv/impsy "\${home}/impsy"
chown -h "${FIRST_USER_NAME}:" "\${home}/impsy"
CHROOT

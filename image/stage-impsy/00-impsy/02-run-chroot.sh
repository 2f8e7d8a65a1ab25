#!/bin/bash
# pi-gen sub-stage, run inside the image: the service user, the venv, the user's folder.
set -euo pipefail

# The service user. gpio exists on Raspberry Pi OS only.
groupadd --system --force impsy
if ! id -u impsy >/dev/null 2>&1; then
	useradd --system --gid impsy --home-dir /srv/impsy --no-create-home \
		--shell /usr/sbin/nologin --comment "IMPSY services" impsy
fi
for group in audio dialout gpio; do
	if getent group "$group" >/dev/null; then
		usermod -aG "$group" impsy
	fi
done

# The runtime and the trainer, offline from the wheels built on the build host, in one
# venv with lgpio (gpiozero's pin library, as a wheel). The trainer adds only flatbuffers
# and threadpoolctl to the runtime's numpy, and `impsy run` never imports it. No system
# site packages: Raspberry Pi OS has its own older gpiozero, which pip would take as
# installed and the runtime would then import.
rm -rf /opt/impsy/venv
python3 -m venv /opt/impsy/venv
/opt/impsy/venv/bin/pip install --no-index --no-cache-dir --disable-pip-version-check \
	--find-links /var/cache/impsy-wheels impsy impsy-train lgpio
rm -rf /var/cache/impsy-wheels
/opt/impsy/venv/bin/impsy --version
/opt/impsy/venv/bin/impsy-train --version

# The user's folder: config, logs, datasets, models. setgid keeps group impsy on
# everything created inside, so the first user and both services can edit it.
if [ ! -f /srv/impsy/config.toml ]; then
	/opt/impsy/venv/bin/impsy init /srv/impsy
	# No one watches the service's terminal: printing every gesture would only fill the
	# journal and wear the SD card. `journalctl -u impsy-run` still shows what matters.
	sed -i 's/^verbose = true /verbose = false/' /srv/impsy/config.toml
fi
for model in /opt/impsy/models/*.tflite; do
	if [ -f "$model" ] && [ ! -e "/srv/impsy/models/$(basename "$model")" ]; then
		cp "$model" /srv/impsy/models/
	fi
done
chown -R impsy:impsy /srv/impsy
chmod -R g+rwX /srv/impsy
find /srv/impsy -type d -exec chmod g+s {} +

systemctl enable impsy-run.service impsy-web.service avahi-daemon.service NetworkManager.service

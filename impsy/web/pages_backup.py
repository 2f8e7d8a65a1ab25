"""Backing up the whole working folder as one zip, and restoring from one."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

from impsy.web import backup
from impsy.web.handling import Answer, Handling, start_attachment


class BackupPages(Handling):
    def backup_page(self) -> Answer:
        files = list(self._backup_sizes())
        return self.render(
            "backup",
            files=len(files),
            total=sum(size for _, size in files),
            limit=self.settings.limits.backup,
        )

    def _backup_sizes(self) -> Iterator[tuple[str, int]]:
        for name, path in backup.backup_files(self.workdir):
            with contextlib.suppress(OSError):
                yield name, path.stat().st_size

    def backup_download(self) -> Answer:
        stamp = time.strftime("%Y-%m-%d-%H%M")
        host = os.uname().nodename.split(".")[0] if hasattr(os, "uname") else "impsy"
        start_attachment(f"impsy-backup-{host}-{stamp}.zip", "application/zip")
        return backup.stream_backup(self.workdir)

    def backup_restore(self) -> Answer:
        part = self.receive(self.workdir.state)
        try:
            with self._config_mutex:
                report = backup.restore(
                    self.workdir,
                    part,
                    self.settings.limits.unpacked,
                    self.settings.check_models,
                    recording=self.recording(),
                )
        except backup.RestoreError as error:
            return self.refuse(422, f"Nothing was restored: {error}")
        finally:
            part.unlink(missing_ok=True)
        config, _ = self.read_config()
        if config is not None:
            self.link.reconfigure(config.webui.monitor_port, config.webui.command_port)
        count = len(report.restored) + len(report.replaced)
        message = f"Restored {count} files ({len(report.replaced)} replaced). Restart IMPSY to use them."
        return {"ok": True, "message": message, "restored": report.restored, "replaced": report.replaced}

"""The JSON API's own reads (status, CSRF token, config, file lists); its actions share the pages'
handlers, which answer JSON to /api/ paths."""

from __future__ import annotations

from collections.abc import Callable

from impsy import __version__
from impsy.config import ERROR
from impsy.web.handling import Answer, Handling
from impsy.web.inventory import as_dict
from impsy.web.paths import KINDS
from impsy.web.system import cpu_temperature


class Api(Handling):
    def api_status(self) -> Answer:
        config, _, problems = self.checked_config()
        return {
            "version": __version__,
            "run": self.link.status(),
            "config": {
                "exists": self.workdir.config.is_file(),
                "valid": config is not None,
                "errors": [p.text for p in problems if p.severity == ERROR],
                "model": self.workdir.active_model(config),
                "dimension": config.model.dimension if config else None,
            },
            "locked": self.guard.locked,
            "disk_free": self.workdir.disk_free(),
            "cpu_temperature": cpu_temperature(),
            "training": self.training,
        }

    def api_csrf(self) -> Answer:
        return {"token": self.csrf()}

    def api_config(self) -> Answer:
        config, text, problems = self.checked_config()
        return {"text": text, "valid": config is not None, "problems": [p.text for p in problems]}

    def api_list(self, kind: str) -> Callable[..., Answer]:
        def handler() -> Answer:
            items = {
                "log": self.inventory.logs,
                "dataset": self.inventory.datasets,
                "model": self.inventory.models,
            }
            return {KINDS[kind][0]: [as_dict(i) for i in items[kind]()]}

        return handler

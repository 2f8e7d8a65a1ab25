"""config.toml: the editor (check, save, go back to the previous version), the setup wizard and
the example configs."""

from __future__ import annotations

import json
from dataclasses import fields, replace

import bottle

from impsy.config import MODES, Config
from impsy.model import SIZES
from impsy.web.configtext import (
    CHANNELS,
    ShownProblem,
    WizardChoices,
    check_text,
    example_files,
    wizard_edit,
    wizard_text,
)
from impsy.web.handling import Answer, Handling
from impsy.web.paths import CONFIG, write_atomically
from impsy.web.system import human_bytes


class ConfigPages(Handling):
    def editor_values(self, text: str, problems: list[ShownProblem]) -> dict:
        """What the config page shows of this text, not yet saved."""
        return {
            "text": text,
            "problems": problems,
            "exists": self.workdir.config.is_file(),
            "has_previous": self.workdir.previous_config.is_file(),
            "saved": False,
        }

    def config_page(self) -> Answer:
        query = bottle.request.query
        notice = None
        exists = self.workdir.config.is_file()
        if query.get("example"):
            examples = example_files(self.settings.example_folders)
            path = examples.get(query.example)
            if path is None:
                return self.refuse(404, f"there is no example config called {query.example!r}")
            text = path.read_text(encoding="utf-8-sig")
            notice = f"This is the example {path.name}, not yet saved: edit it, then Save to use it."
        elif query.get("previous"):
            try:
                text = self.workdir.previous_config.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError):
                return self.refuse(404, "there is no previous version of config.toml")
            notice = "This is the previous version of config.toml, not yet saved: Save to go back to it."
        elif exists:
            try:
                text = self.workdir.config.read_bytes().decode("utf-8-sig")
            except (OSError, UnicodeDecodeError) as error:
                text, notice = "", f"config.toml cannot be read ({error}): write a new one below."
        else:
            text = ""
        problems = check_text(text, CONFIG, self.workdir.root)[1] if text.strip() else []
        return self.render("config", notice=notice, **self.editor_values(text, problems))

    def config_save(self) -> Answer:
        raw = bottle.request.forms.getunicode("text", default=None)
        if raw is None:
            if "text" in bottle.request.forms:  # getunicode gives None for bytes that are not UTF-8
                return self.refuse(400, "the config text is not UTF-8: save it as UTF-8 and paste it again")
            return self.refuse(400, "no config text was sent (the form's text field is missing)")
        text = raw.replace("\r\n", "\n")
        if len(text.encode()) > self.settings.limits.config:
            return self.refuse(413, f"a config may be at most {human_bytes(self.settings.limits.config)}")
        config, problems = check_text(text, CONFIG, self.workdir.root)
        only_check = bottle.request.forms.get("action") == "check"
        values = self.editor_values(text, problems)
        if config is None:
            errors = sum(p.is_error for p in problems)
            plural = "s" if errors != 1 else ""
            message = (
                f"{errors} problem{plural} to fix (see Problems). Nothing was saved."
                if only_check
                else f"Not saved: {errors} problem{plural} to fix first (see Problems)."
            )
            if self.wants_json():
                body = json.dumps({"error": message, "problems": [p.text for p in problems]})
                return self.respond(body, 422, "application/json")
            return self.render("config", 422, error=message, **values)
        if only_check:
            message = "The config is valid" + (" (with warnings)" if problems else "") + ": not saved yet."
            return self.render("config", notice=message, **values)
        try:
            with self._config_mutex:
                write_atomically(
                    self.workdir.config, text.encode(), keep_previous=self.workdir.previous_config
                )
        except OSError as error:
            return self.refuse(
                507, f"config.toml could not be written: {error.strerror or error}", "config", **values
            )
        self.link.reconfigure(config.webui.monitor_port, config.webui.command_port)
        message = "Saved config.toml (the previous version is kept). Restart IMPSY to use it."
        if problems:
            message += f" {len(problems)} warning{'s' if len(problems) != 1 else ''} (see Problems)."
        if self.wants_json():
            return {"ok": True, "message": message, "problems": [p.text for p in problems]}
        values.update(saved=True, has_previous=True, exists=True)
        return self.render("config", notice=message, **values)

    def config_previous(self) -> Answer:
        previous = self.workdir.previous_config
        try:
            text = previous.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError):
            return self.refuse(404, "there is no previous version of config.toml")
        config, _ = check_text(text, CONFIG)
        if config is None:
            return self.refuse(422, "the previous version is not valid, so it was not restored")
        with self._config_mutex:  # the one it replaces becomes the previous one
            write_atomically(self.workdir.config, text.encode(), keep_previous=previous)
        self.link.reconfigure(config.webui.monitor_port, config.webui.command_port)
        return self.done(
            "Went back to the previous config.toml (the one replaced is now the previous).", "/config"
        )

    def wizard_page(self) -> Answer:
        config, _ = self.read_config()
        choices = self.current_choices(config) if config is not None else WizardChoices()
        models = [m for m in self.inventory.models() if not m.error]
        return self.render("wizard", choices=choices, models=models, modes=MODES, sizes=list(SIZES))

    def current_choices(self, config: Config) -> WizardChoices:
        """The wizard's answers that the current config gives: it starts from what the instrument has."""
        choices = replace(
            WizardChoices(),
            title=config.title or WizardChoices.title,
            mode=config.interaction.mode,
            dimension=config.model.dimension,
            model=self.workdir.active_model(config) or "",
            size=config.model.size,
            monitor_port=config.webui.monitor_port,
            command_port=config.webui.command_port,
            channels=tuple(c for c in CHANNELS if getattr(config, c) is not None),
        )
        if config.osc:
            choices = replace(
                choices,
                osc_server_port=config.osc.server_port,
                osc_client_ip=config.osc.client_ip,
                osc_client_port=config.osc.client_port,
            )
        if config.serial:
            choices = replace(choices, serial_port=config.serial.port, serial_baudrate=config.serial.baudrate)
        if config.midi:
            first = {"midi_in": config.midi.in_device[:1], "midi_out": config.midi.out_device[:1]}
            choices = replace(choices, **{k: v[0] if v else "" for k, v in first.items()})
        return choices

    def wizard_make(self) -> Answer:
        forms = bottle.request.forms
        current, current_text = self.read_config()
        # A field the form leaves out keeps what the config has (the page sends every field).
        before = self.current_choices(current) if current is not None else WizardChoices()
        values: dict = {}
        for f in fields(WizardChoices):
            if f.name == "channels":
                values["channels"] = tuple(c for c in forms.getall("channels") if c in CHANNELS)
                continue
            raw = forms.getunicode(f.name)
            if raw is None:
                continue
            if isinstance(getattr(before, f.name), int):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    return self.refuse(400, f"{f.name}: expected a whole number, found {raw!r}")
            else:
                values[f.name] = raw.strip()
        choices = replace(before, **values)
        if choices.model:  # a model from the list: its own dimension and size win
            info = self.inventory.model(choices.model)
            if info is None or info.error:
                return self.refuse(400, f"there is no usable model called {choices.model!r}")
            choices = replace(choices, dimension=info.dimension, size=info.size or choices.size)
        # With a config, only what was changed in the wizard is edited and every comment stays.
        text = wizard_edit(current_text, before, choices) if current is not None else wizard_text(choices)
        config, problems = check_text(text, CONFIG)
        message = (
            "Here is your new config. Check it, then Save to use it."
            if config is not None
            else "The wizard's choices do not make a valid config yet: fix the problems listed, then Save."
        )
        return self.render(
            "config",
            422 if config is None else 200,
            notice=message if config is not None else None,
            error=message if config is None else None,
            **self.editor_values(text, problems),
        )

    def examples_page(self) -> Answer:
        examples = []
        for name, path in example_files(self.settings.example_folders).items():
            try:
                text = path.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError):
                continue
            config, problems = check_text(text, name)
            examples.append({"name": name, "config": config, "problems": problems, "text": text})
        return self.render("examples", examples=examples)

    def example_page(self, name: str) -> Answer:
        path = example_files(self.settings.example_folders).get(name)
        if path is None:
            return self.refuse(404, f"there is no example config called {name!r}")
        text = path.read_text(encoding="utf-8-sig")
        config, problems = check_text(text, name)
        return self.render("example", name=name, text=text, config=config, problems=problems)

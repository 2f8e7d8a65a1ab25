"""The model file a config names: there, runnable, and of the config's dimension and size.

Checked by `impsy check-config` (it loads the file, as `impsy run` would), not by every parse.
The web UI checks configs as they are typed and runs model files in a child process only, so it
asks for load=False: the file is there and not empty.
"""

from __future__ import annotations

from pathlib import Path

from impsy.config.problems import ERROR, WARNING, Problem
from impsy.config.settings import Config


def model_file_path(file: str, config_path: Path) -> str:
    """A configured model path: as given if absolute or found from here, else beside the config."""
    path = Path(file)
    if not file or path.is_absolute() or path.exists():
        return file
    beside = config_path.parent / path
    return str(beside) if beside.exists() else file


def model_file_problems(config: Config, config_path: Path, load: bool = True) -> list[Problem]:
    """What stops the config's model file from playing as the config says; [] for the dummy.

    With load=False only that the file is there and not empty (no interpreter in this process).
    """
    from impsy.model import ModelError, load_model, resolve_model_file

    wanted = config.model
    if not wanted.file:
        return []  # "" asks for random gestures on purpose
    try:
        path = resolve_model_file(model_file_path(wanted.file, config_path))
        if not load:
            return []
        info = load_model(path).info
    except ModelError as error:
        return [Problem(config.source, "model.file", str(error), ERROR)]
    except Exception as error:  # whatever the interpreter throws at a file that is not a model
        message = f"{wanted.file}: cannot be run ({type(error).__name__}: {error})"
        return [Problem(config.source, "model.file", message, ERROR)]
    problems = []
    if info.dimension != wanted.dimension:
        message = f"expected {info.dimension}, the dimension of {wanted.file}; found {wanted.dimension}"
        problems.append(Problem(config.source, "model.dimension", message, ERROR))
    if info.size != wanted.size:
        shape = f"{info.size or 'an unnamed size'} ({info.layers} layers of {info.units} units)"
        message = f"{wanted.file} is {shape}, not {wanted.size!r}; the file wins"
        problems.append(Problem(config.source, "model.size", message, WARNING))
    return problems

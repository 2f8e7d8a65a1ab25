"""The `impsy` command: run, init, check, check-config, dataset, midi-ports, webui."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from impsy import __version__
from impsy.channels.base import ChannelError
from impsy.config import (
    ERROR,
    Config,
    ConfigError,
    ModelConfig,
    Problem,
    add_override_arguments,
    apply_overrides,
    check_config,
    format_problems,
    load_config,
)
from impsy.config.modelfile import model_file_path
from impsy.dataset import (
    DEFAULT_MAX_GAP,
    DatasetError,
    build_dataset,
    dataset_filename,
    dimensions_in,
    max_gap_argument,
)
from impsy.model import Model, ModelError, load_model
from impsy.web.options import add_arguments as add_webui_arguments

log = logging.getLogger("impsy")

# Errors a user can fix; anything else is a bug and keeps its traceback.
USER_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    ModelError,
    DatasetError,
    ChannelError,
    OSError,
    ValueError,
)
DEFAULT_CONFIG = Path("config.toml")
WORKDIR_FOLDERS = ("logs", "datasets", "models")
# Signals whose default is to end the process, so each ends `impsy run` with its shutdown (notes
# silenced, log closed): SIGHUP is an SSH terminal closed under it. SIGPIPE stays ignored, as
# Python sets it: a closed stdout only stops the printing (Performance._print).
STOP_SIGNALS = ("SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGALRM")
# Mappings are sized by the config's dimension; they cannot follow a model of another one.
MAPPED_SECTIONS = ("midi", "websocket", "serialmidi")


def shipped(*parts: str) -> Path:
    """A file shipped with the package: the default config, the pre-trained models."""
    from importlib.resources import files

    return Path(str(files("impsy").joinpath("data", *parts)))


def prepare(args: argparse.Namespace) -> tuple[Config, Model]:
    """The config with its overrides, and the model it names, checked against each other."""
    config = apply_overrides(load_config(args.config), args)
    file = args.model if args.model is not None else config.model.file
    model = load_model(model_file_path(file, Path(args.config)), config.model.dimension)
    info, wanted = model.info, config.model
    if info.dimension != wanted.dimension:
        mapped = [s for s in MAPPED_SECTIONS if getattr(config, s) is not None]
        if mapped:
            raise ConfigError(
                [
                    Problem(
                        config.source,
                        "model.dimension",
                        f"the model {info.path} has dimension {info.dimension}, but the config says "
                        f"{wanted.dimension} and [{mapped[0]}] maps {wanted.dimension - 1} controls; "
                        f"use a dim{wanted.dimension} model or change the dimension and mappings",
                        ERROR,
                    )
                ]
            )
        log.warning(
            "%s: model.dimension is %d but %s has dimension %d; using %d",
            config.source,
            wanted.dimension,
            info.path,
            info.dimension,
            info.dimension,
        )
    if info.layout != "dummy" and info.size != wanted.size:
        log.warning(
            "%s: model.size is %r but %s is %s (%d layers of %d units); the file wins",
            config.source,
            wanted.size,
            info.path,
            info.size or "an unnamed size",
            info.layers,
            info.units,
        )
    return config, model


def run_run(args: argparse.Namespace) -> int:
    """Play: listen to every channel, answer with the model, log everything."""
    import asyncio
    import signal

    from impsy.interaction.loop import Performance

    # The folder, or the nearest part of its path that exists, must be a folder.
    there = next((p for p in (args.logs, *args.logs.parents) if p.exists()), None)
    if there is not None and not there.is_dir():
        raise NotADirectoryError(
            f"--logs {args.logs}: {there} is a file; logs go into a folder (default: logs)"
        )
    config, model = prepare(args)
    performance = Performance(config, model, log_dir=args.logs)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for name in STOP_SIGNALS:
            if (sig := getattr(signal, name, None)) is not None:
                loop.add_signal_handler(sig, stop.set)
        await performance.run(stop)

    asyncio.run(main())
    return 0


def run_check(args: argparse.Namespace) -> int:
    """Load the config and model, time some predictions, and say whether all is well."""
    import time

    import numpy as np

    if args.model is not None and args.config == DEFAULT_CONFIG and not DEFAULT_CONFIG.exists():
        # A model file alone needs no working folder: it is checked with the default temperatures.
        if not Path(args.model).is_file():
            raise ModelError(f"{args.model}: no such file")
        model, temperatures = load_model(args.model), ModelConfig(dimension=0)
        print("config: none here (config.toml); the model is checked alone, with the default temperatures")
    else:
        config, model = prepare(args)
        temperatures = config.model
        print(f"config: {config.source}")
    info = model.info
    print(
        f"model:  {info.path or 'dummy (random gestures)'}: dimension {info.dimension}, "
        f"size {info.size or '-'} ({info.layers} layers of {info.units} units, "
        f"{info.mixtures} mixtures, {info.layout} layout)"
    )
    x = np.zeros(model.dimension)
    times = []
    t = temperatures
    for _ in range(args.steps):
        started = time.perf_counter()
        x = model.sample(model.step(x), t.pitemp, t.sigmatemp, t.persistence, t.one_at_a_time)
        times.append(time.perf_counter() - started)
    ms = np.array(times) * 1000
    print(f"{args.steps} predictions: {np.median(ms):.3f} ms per step (p99 {np.percentile(ms, 99):.3f} ms)")
    print(f"last prediction: dt {x[0]:.3f} s, controls {' '.join(f'{v:.3f}' for v in x[1:])}")
    return 0


def run_check_config(args: argparse.Namespace) -> int:
    """Validate a config file without running anything."""
    problems = check_config(args.file)
    errors = [p for p in problems if p.severity == "error"]
    if problems:
        print(format_problems(problems))
    warnings = len(problems) - len(errors)
    counted = f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""
    print(f"{args.file}: {'not valid' if errors else 'OK'}{counted}")
    return 1 if errors else 0


def run_webui(args: argparse.Namespace) -> int:
    """Serve the web UI (bottle is imported only here)."""
    from impsy.web.server import run

    return run(args)


def run_midi_ports(args: argparse.Namespace) -> int:
    """Print the MIDI inputs and outputs this machine has (mido is imported only here)."""
    from impsy.channels.midi import print_port_names

    return print_port_names()


def run_init(args: argparse.Namespace) -> int:
    """Make a working folder: logs/, datasets/, models/ (with the shipped models), config.toml."""
    import shutil

    folder: Path = args.dir
    for name in WORKDIR_FOLDERS:
        (folder / name).mkdir(parents=True, exist_ok=True)
    for model in sorted(shipped("models").glob("*.tflite")):
        target = folder / "models" / model.name
        if not target.exists():
            shutil.copyfile(model, target)
            print(f"added {target}")
    config = folder / DEFAULT_CONFIG
    if config.exists():
        print(f"kept {config} (already there)")
    else:
        shutil.copyfile(shipped("configs", "default.toml"), config)
        print(f"wrote {config}")
    print(f"ready: cd {folder} && impsy run")
    return 0


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `impsy dataset` (also offered by `impsy-train dataset`)."""
    parser.add_argument(
        "-D",
        "--dimension",
        type=int,
        help="only logs of this dimension (default: every dimension found)",
    )
    parser.add_argument("--logs", default="logs", type=Path, help="folder of .log files (default: logs)")
    parser.add_argument(
        "--out", default="datasets", type=Path, help="folder for the dataset (default: datasets)"
    )
    parser.add_argument(
        "--max-gap",
        type=max_gap_argument,
        default=DEFAULT_MAX_GAP,
        help=f"pauses longer than this count as this many seconds (default: {DEFAULT_MAX_GAP:g})",
    )


def run_dataset(args: argparse.Namespace) -> int:
    """Build one dataset per dimension from the logs and print what is in each."""
    dims = [args.dimension] if args.dimension else dimensions_in(args.logs)
    if not dims:
        raise DatasetError(f"{args.logs}: no IMPSY logs (*-<D>d-mdrnn.log) found")
    built = 0
    for dimension in dims:
        dataset, report = build_dataset(args.logs, dimension, args.max_gap)
        if not len(dataset.events):
            # Said, and the other dimensions still built: one odd log must not block them.
            print(f"{args.logs}: no performer events in the {dimension}d logs; no {dimension}d dataset")
            for problem in report.problems[:3]:
                print(f"    {problem}")
            continue
        built += 1
        path = dataset.save(args.out / dataset_filename(dimension))
        print(f"{path}: {dataset.summary()}")
        if report.skipped:
            print(f"  skipped {report.skipped} malformed rows, for example:")
            for problem in report.problems[:3]:
                print(f"    {problem}")
    if not built:
        raise DatasetError(f"{args.logs}: no performer events in any {'/'.join(f'{d}d' for d in dims)} log")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="impsy", description="IMPSY, the Interactive Musical Prediction SYstem."
    )
    parser.add_argument("--version", action="version", version=f"impsy {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="play: listen, answer with the model, log everything")
    add_model_arguments(run)
    run.add_argument("--logs", type=Path, default=Path("logs"), help="where logs go (default: logs)")
    add_override_arguments(run)
    run.set_defaults(handler=run_run)

    check = commands.add_parser("check", help="load the config and model and time some predictions")
    add_model_arguments(check)
    check.add_argument("--steps", type=int, default=1000, help="predictions to time (default: 1000)")
    add_override_arguments(check)
    check.set_defaults(handler=run_check)

    check_cfg = commands.add_parser("check-config", help="validate a config file without running")
    check_cfg.add_argument("file", nargs="?", type=Path, default=DEFAULT_CONFIG, help="default: config.toml")
    check_cfg.set_defaults(handler=run_check_config)

    webui = commands.add_parser("webui", help="serve the web UI (config, logs, models, live monitor)")
    add_webui_arguments(webui)
    webui.set_defaults(handler=run_webui)

    ports = commands.add_parser("midi-ports", help="list MIDI port names to copy into the config")
    ports.set_defaults(handler=run_midi_ports)

    init = commands.add_parser("init", help="create logs/, datasets/, models/ and a config.toml")
    init.add_argument("dir", nargs="?", type=Path, default=Path("."), help="default: here")
    init.set_defaults(handler=run_init)

    dataset = commands.add_parser("dataset", help="build a training dataset from the logs")
    add_dataset_arguments(dataset)
    dataset.set_defaults(handler=run_dataset)
    return parser


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The config file and the optional model file that overrides [model].file."""
    parser.add_argument("model", nargs="?", help="model file, overriding [model] file")
    parser.add_argument("-c", "--config", type=Path, default=DEFAULT_CONFIG, help="default: config.toml")


# The original's commands that are found elsewhere now: say where, not just "invalid choice".
MOVED = {
    "train": "training needs TensorFlow, so it is a package of its own for a laptop: "
    "`pip install ./train`, then `impsy-train train --dimension N --modelsize s`",
    "test-mdrnn": "it is `impsy check` now (loads the config and the model, times some predictions)",
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    if command in MOVED:
        parser.error(f"{command}: {MOVED[command]}")
    args = parser.parse_args(argv)
    return run_command(parser.prog, args.handler, args)


def run_command(
    prog: str,
    handler: Callable[[argparse.Namespace], int],
    args: argparse.Namespace,
    errors: tuple[type[Exception], ...] = USER_ERRORS,
) -> int:
    """Run a command; a user's error is one friendly line unless --debug."""
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(levelname)s: %(message)s" if not args.debug else "%(levelname)s %(name)s: %(message)s",
    )
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except errors as error:
        if args.debug:
            raise
        print(f"{prog}: error: {describe(error)}", file=sys.stderr)
        return 1


def describe(error: Exception) -> str:
    """A user-facing line for an error: OS errors name their file without the errno noise."""
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    return str(error)


if __name__ == "__main__":
    sys.exit(main())

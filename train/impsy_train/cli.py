"""The `impsy-train` command: dataset, train, finetune, and pull/push to an instrument."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from impsy.cli import USER_ERRORS, add_dataset_arguments, run_command, run_dataset
from impsy.dataset import (
    DEFAULT_MAX_GAP,
    Dataset,
    DatasetError,
    build_dataset,
    dataset_filename,
    load_dataset,
    max_gap_argument,
)
from impsy.model import SIZES
from impsy_train import __version__
from impsy_train.settings import TrainSettings


def load_training_data(args: argparse.Namespace) -> Dataset:
    """The dataset to train on: --dataset, else datasets/training-dataset-{D}d.npz, else the logs."""
    if args.dataset:
        dataset = load_dataset(args.dataset, allow_pickle=args.allow_pickle)
    else:
        default = args.datasets / dataset_filename(args.dimension)
        if default.is_file() and not args.logs_given:
            dataset = load_dataset(default, allow_pickle=args.allow_pickle)
            print(f"dataset: {default}")
            if args.max_gap is not None and args.max_gap != dataset.meta.get("max_gap"):
                print(f"  note: it was built with --max-gap {dataset.meta.get('max_gap')}; "
                      f"--max-gap {args.max_gap:g} applies only with --logs")  # fmt: skip
        else:
            dataset, _ = build_dataset(args.logs, args.dimension, args.max_gap or DEFAULT_MAX_GAP)
            print(f"dataset: built from {args.logs}")
    if args.dimension and dataset.dimension != args.dimension:
        raise DatasetError(
            f"the dataset has dimension {dataset.dimension}, but --dimension is {args.dimension}"
        )
    print(f"  {dataset.summary()}")
    return dataset


def count_argument(least: int) -> Callable[[str], int]:
    """argparse's type for a whole number of at least `least` (components, timings)."""

    def parse(text: str) -> int:
        problem = argparse.ArgumentTypeError(f"expected a whole number of at least {least}, found {text!r}")
        try:
            value = int(text)
        except ValueError:
            raise problem from None
        if value < least:
            raise problem
        return value

    return parse


def epoch_printer(json_lines: bool):
    """Print each epoch as it ends: a line for people, or JSON for the web UI (--progress json)."""

    def show(p: dict) -> None:
        if json_lines:
            print(json.dumps({"progress": p}), flush=True)
            return
        left = f", about {p['eta'] / 60:.1f} min left" if p["epoch"] < p["epochs"] else ""
        print(
            f"epoch {p['epoch']}/{p['epochs']}: training {p['loss']:.3f}, held-out {p['val_loss']:.3f}"
            f" (best: epoch {p['best_epoch']}), {p['seconds']:.0f} s{left}",
            flush=True,
        )

    return show


def run_train(args: argparse.Namespace) -> int:
    """Train, keep the best epoch, export and check the .tflite, write the report."""
    from impsy_train.threads import one_blas_thread
    from impsy_train.training import size_warning, train

    args.logs_given = args.logs is not None
    args.logs = args.logs or Path("logs")
    dataset = load_training_data(args)
    settings = TrainSettings(
        size=args.modelsize,
        mixtures=args.mixtures,
        timings=args.timings,
        log_dt=args.log_dt,
        epochs=args.epochs,
        batch_size=args.batchsize,
        early_stopping=args.earlystopping,
        patience=args.patience,
        seq_len=args.seq_len,
        learning_rate=args.learning_rate,
        seed=args.seed,
        dequantise={"auto": None, "on": True, "off": False}[args.dequantise],
        dequantise_width=args.dequantise_width,
        dequantise_epochs=args.dequantise_epochs,
    )
    # Said before training when the whole dataset is already too small; else after it, if the
    # part left for training is (finish), never both.
    args.warned = bool(warning := size_warning(dataset.dimension, settings.size, len(dataset.events)))
    if warning:
        print(f"  warning: {warning}")
    print("training (Ctrl-C stops and keeps the best epoch so far)", flush=True)
    with one_blas_thread():
        result = train(dataset, settings, progress=epoch_printer(args.progress == "json"))
    return finish(result, args)


def run_finetune(args: argparse.Namespace) -> int:
    """Carry on training a model on the logs recorded since it was made."""
    from impsy_train.finetune import FINE_TUNING, finetune, load_start, model_time, sort_logs
    from impsy_train.threads import one_blas_thread

    if not args.model.is_file():
        raise FileNotFoundError(f"{args.model}: no such model file")
    since = args.since or model_time(args.model)
    tonight = sort_logs(args.logs, load_start(args.model).dimension, since)
    print(f"{args.model.name}: made {since:%Y-%m-%d %H:%M}")
    print(f"  learning from {len(tonight.new)} new logs, replaying {len(tonight.old)} older ones")
    settings = (
        FINE_TUNING if args.epochs is None else TrainSettings(**{**vars(FINE_TUNING), "epochs": args.epochs})
    )
    print("fine-tuning (Ctrl-C stops and keeps the best epoch so far)", flush=True)
    with one_blas_thread():
        result = finetune(args.model, tonight, args.max_gap or DEFAULT_MAX_GAP, settings,
                          epoch_printer(args.progress == "json"))  # fmt: skip
    print(f"  tonight's held-out playing: {result.start_nll:.3f} before, {result.heldout_nll:.3f} after")
    return finish(result, args)


def finish(result, args: argparse.Namespace) -> int:
    """Save the model and its report, and say where they are and how good the model is."""
    from impsy_train.report import compare_with_shipped
    from impsy_train.training import save

    result.comparison = compare_with_shipped(result, result.validation) if not result.started_from else None
    save(result, args.models)
    print(
        f"{result.stopped} after {len(result.history['loss'])} epochs in {result.seconds / 60:.1f} min"
        f" ({result.cpu_seconds / 60:.1f} min of CPU);"
        f" kept epoch {result.best_epoch}: held-out NLL {result.heldout_nll:.3f} per event"
    )
    if result.comparison:
        print(f"  {result.comparison['verdict']} ({result.comparison['shipped_heldout_nll']:.3f})")
    for warning in [] if getattr(args, "warned", False) else result.warnings:
        print(f"  warning: {warning}")
    for kind, name in result.files.items():
        print(f"  {kind:7s} {args.models / name}")
    print(f"  LiteRT and the trained network agree within {result.parity:.1e}")
    if args.progress == "json":
        print(json.dumps({"saved": result.files}), flush=True)
    return 0


def run_export(args: argparse.Namespace) -> int:
    """The old TensorFlow trainer's export: every model impsy-train writes now is a .tflite already."""
    raise ValueError(
        f"{args.model}: impsy-train no longer uses Keras, and `export` is gone. A .keras file that an "
        "earlier impsy-train wrote has its .tflite beside it; a model the original IMPSY trained "
        "cannot be converted, so train a new one from the same logs with `impsy-train train`"
    )


def run_pull(args: argparse.Namespace) -> int:
    """Fetch the logs an instrument holds that are not here yet."""
    from impsy_train.remote import pull, with_password

    fetched, kept = with_password(lambda remote: pull(remote, args.dest), args.url)
    print(f"{len(fetched)} new logs in {args.dest}/" + (f" ({len(kept)} already here)" if kept else ""))
    return 0


def run_push(args: argparse.Namespace) -> int:
    """Send a model to an instrument, which checks it and makes it active."""
    from impsy_train.remote import push, with_password

    result = with_password(
        lambda remote: push(remote, args.model, activate=not args.no_activate, restart=args.restart), args.url
    )
    return 0 if args.no_activate or result.get("activated") else 1


def add_progress_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        choices=["text", "json"],
        default="text",
        help="how each epoch is shown (json: for programs)",
    )


def build_parser() -> argparse.ArgumentParser:
    # @FILE reads arguments from FILE, one a line: impsy-train.service gets the web UI's this way.
    parser = argparse.ArgumentParser(
        prog="impsy-train",
        description="Train IMPSY models, on a laptop or on the Pi.",
        fromfile_prefix_chars="@",
    )
    parser.add_argument("--version", action="version", version=f"impsy-train {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dataset = commands.add_parser("dataset", help="build a training dataset from the logs")
    add_dataset_arguments(dataset)
    dataset.set_defaults(handler=run_dataset)

    train = commands.add_parser("train", help="train a model and export it for the runtime")
    defaults = TrainSettings()
    train.add_argument(
        "-D", "--dimension", type=int, required=True, help="values per event, dt included (e.g. 9)"
    )
    train.add_argument(
        "-M", "--modelsize", default="s", choices=list(SIZES), help="network size (default: s)"
    )
    train.add_argument(
        "--mixtures",
        type=count_argument(1),
        default=defaults.mixtures,
        help="Gaussian components per prediction; the file name says how many (default: %(default)s)",
    )
    train.add_argument(
        "--timings",
        type=count_argument(0),
        default=defaults.timings,
        help="give dt this many components of its own, and the controls --mixtures; the file holds"
        " their pairings (suits touch-screen timing; default: %(default)s, dt shares the components)",
    )
    train.add_argument(
        "--log-dt",
        action="store_true",
        help="let the network read each gap's logarithm too, where 1 ms and 20 ms are far apart (touch"
        " logs); with --dequantise on for the first epochs (--dequantise-epochs) it remembers its"
        " recent gaps, as the shipped touch model does (models/train-shipped.sh)",
    )
    train.add_argument("--earlystopping", action="store_true", help="stop when validation stops improving")
    train.add_argument(
        "--patience",
        type=int,
        default=defaults.patience,
        help="epochs without improvement before stopping (default: %(default)s)",
    )
    train.add_argument(
        "--epochs",
        "--numepochs",
        type=int,
        default=defaults.epochs,
        help="most epochs to run (default: %(default)s)",
    )
    train.add_argument(
        "--batchsize", type=int, default=defaults.batch_size, help="windows per batch (default: %(default)s)"
    )
    train.add_argument(
        "--dataset", type=Path, help="a dataset file (default: datasets/training-dataset-<D>d.npz)"
    )
    train.add_argument("--logs", type=Path, help="build the dataset from this folder of logs instead")
    train.add_argument("--datasets", type=Path, default=Path("datasets"), help=argparse.SUPPRESS)
    train.add_argument("--models", type=Path, default=Path("models"), help="where to save (default: models)")
    train.add_argument(
        "--max-gap",
        type=max_gap_argument,
        default=None,
        help=f"longest pause kept, in seconds (default: {DEFAULT_MAX_GAP:g})",
    )
    train.add_argument(
        "--seq-len", type=int, default=defaults.seq_len, help="window length in events (default: %(default)s)"
    )
    train.add_argument(
        "--learning-rate",
        type=float,
        default=defaults.learning_rate,
        help="Adam's starting learning rate, falling along a cosine (default: %(default)s)",
    )
    train.add_argument(
        "--seed", type=int, default=defaults.seed, help="random seed: same data and seed, same split"
    )
    train.add_argument(
        "--dequantise",
        choices=["auto", "on", "off"],
        default="off",
        help="spread control values recorded on a grid (7-bit MIDI) over their grid cells while "
        "training; auto: when the logs are on a grid. Off by default: see the README "
        "(default: %(default)s)",
    )
    train.add_argument(
        "--dequantise-width",
        type=float,
        default=defaults.dequantise_width,
        help="how much of a grid cell to spread over, 0-1 (default: %(default)s)",
    )
    train.add_argument(
        "--dequantise-epochs",
        type=count_argument(0),
        default=defaults.dequantise_epochs,
        help="with --dequantise on: spread only the first N epochs, then train on the values as "
        "recorded (with --log-dt, how the 4d touch model learns to remember its recent gaps; "
        "0: every epoch; default: %(default)s)",
    )
    train.add_argument(
        "--allow-pickle",
        action="store_true",
        help="read an original IMPSY (pickled) dataset you trust",
    )
    add_progress_argument(train)
    train.set_defaults(handler=run_train)

    finetune = commands.add_parser(
        "finetune",
        help="learn from tonight: carry on training a model on the logs recorded since it was made",
    )
    finetune.add_argument("model", type=Path, help="the .tflite to start from (one impsy-train wrote)")
    finetune.add_argument("--logs", type=Path, default=Path("logs"), help="folder of logs (default: logs)")
    finetune.add_argument(
        "--models", type=Path, default=Path("models"), help="where to save (default: models)"
    )
    finetune.add_argument(
        "--since",
        type=datetime.fromisoformat,
        help="learn from logs written after this time, e.g. 2026-12-03T19:00 "
        "(default: when the model was made)",
    )
    finetune.add_argument("--epochs", type=int, help="most epochs to run (default: 10)")
    finetune.add_argument(
        "--max-gap",
        type=max_gap_argument,
        default=None,
        help=f"longest pause kept, in seconds (default: {DEFAULT_MAX_GAP:g})",
    )
    add_progress_argument(finetune)
    finetune.set_defaults(handler=run_finetune)

    export = commands.add_parser("export", help=argparse.SUPPRESS)
    export.add_argument("model", type=Path)
    export.add_argument("--out", type=Path)
    export.set_defaults(handler=run_export)

    from impsy_train.remote import DEFAULT_URL

    pull = commands.add_parser("pull", help="fetch the logs from an instrument's web UI")
    pull.add_argument("url", nargs="?", default=DEFAULT_URL, help=f"the web UI (default: {DEFAULT_URL})")
    pull.add_argument("--dest", type=Path, default=Path("logs"), help="folder for the logs (default: logs)")
    pull.set_defaults(handler=run_pull)

    push = commands.add_parser("push", help="send a .tflite model to an instrument and make it active")
    push.add_argument("model", type=Path, help="the .tflite file")
    push.add_argument("url", nargs="?", default=DEFAULT_URL, help=f"the web UI (default: {DEFAULT_URL})")
    push.add_argument("--no-activate", action="store_true", help="upload only; keep the active model")
    push.add_argument("--restart", action="store_true", help="then restart IMPSY so that it plays the model")
    push.set_defaults(handler=run_push)
    return parser


OUT_OF_MEMORY = 3  # the exit code when training ran out of memory (the web UI says so plainly)


def main(argv: list[str] | None = None) -> int:
    from impsy_train.remote import RemoteError

    # A parent started in the background (`nohup ... &`, a non-interactive shell) passes SIGINT
    # down ignored; Ctrl-C and the web UI's Stop button must still end training with the best epoch.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args = build_parser().parse_args(argv)
    errors: tuple[type[Exception], ...] = (*USER_ERRORS, RemoteError)
    if args.command in ("train", "finetune"):
        from impsy_train.export import ExportError
        from impsy_train.training import TrainingError

        errors = (*errors, TrainingError, ExportError)
    try:
        return run_command("impsy-train", args.handler, args, errors)
    except MemoryError as error:  # a memory cap (rlimit) or a small machine; numpy names the array
        print(
            f"impsy-train: error: out of memory ({error or 'no detail'}): try a smaller size or fewer logs",
            file=sys.stderr,
        )
        return OUT_OF_MEMORY


if __name__ == "__main__":
    sys.exit(main())

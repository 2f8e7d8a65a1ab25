"""Datasets: one performance per log, long pauses capped, saved and loaded without pickle."""

import pickle
import subprocess
import sys

import numpy as np
import pytest

from impsy import cli
from impsy.dataset import (
    DatasetError,
    build_dataset,
    dataset_filename,
    event_dt,
    load_dataset,
)
from impsy.logs import read_log


def test_long_pauses_are_capped_and_clock_jumps_back_are_zero():
    times = np.array([0.0, 0.1, 0.2, 10.2, 10.3, 9.0, 9.1])
    assert event_dt(times, max_gap=5.0) == pytest.approx([0, 0.1, 0.1, 5.0, 0.1, 0, 0.1])


def test_build_from_logs_written_by_the_runtime(make_logs):
    logs = make_logs(dimension=4, performances=3, events=50)
    dataset, report = build_dataset(logs, 4)
    assert report.files == 3 and report.skipped == 0
    assert len(dataset.starts) == 3 and dataset.sources == [p.name for p in sorted(logs.iterdir())]
    assert len(dataset.events) == 300
    assert dataset.events[0, 0] == 0.0 and dataset.events[1, 0] == pytest.approx(0.05, abs=1e-6)
    assert dataset.events[50, 0] == 5.0  # each log rests 60 s between its two gestures
    assert dataset.duration == pytest.approx(3 * (99 * 0.05 + 5.0 - 0.05), rel=1e-3)
    assert all(len(p) == 100 for p in dataset.performances())


def test_rnn_rows_are_not_training_data(tmp_path):
    from datetime import datetime

    from conftest import gesture, write_log

    write_log(tmp_path, 3, datetime(2020, 1, 1), [gesture(20, 2)], rnn_every=2)
    dataset, report = build_dataset(tmp_path, 3)
    assert len(dataset.events) == 20 and report.rows == 30


def test_saved_dataset_loads_without_pickle(make_logs, tmp_path):
    dataset, _ = build_dataset(make_logs(dimension=3, performances=2, events=30), 3)
    path = dataset.save(tmp_path / dataset_filename(3))
    with np.load(path, allow_pickle=False) as raw:  # plain arrays only
        assert set(raw.files) == {"events", "starts", "sources", "meta"}
    loaded = load_dataset(path)
    assert loaded.dimension == 3 and np.array_equal(loaded.events, dataset.events)
    assert loaded.sources == dataset.sources and loaded.meta["max_gap"] == 5.0


class Payload:
    """Unpickling this runs code: it creates a file."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_original_pickled_dataset_needs_an_explicit_opt_in(tmp_path):
    marker = tmp_path / "code-ran"
    perfs = np.empty(2, dtype=object)
    perfs[0], perfs[1] = np.zeros((5, 3)), Payload(str(marker))
    np.savez(tmp_path / "evil.npz", perfs=perfs)
    with pytest.raises(DatasetError, match="stored with pickle, and loading it could run code"):
        load_dataset(tmp_path / "evil.npz")
    assert not marker.exists()


def test_original_dataset_loads_when_allowed_and_its_pauses_are_capped(tmp_path):
    perf = np.zeros((6, 3), np.float32)
    perf[:, 0] = [0, 0.1, 0.1, 60.0, 0.1, 0.1]
    perfs = np.empty(1, dtype=object)
    perfs[0] = perf
    np.savez(tmp_path / "old.npz", perfs=perfs)
    loaded = load_dataset(tmp_path / "old.npz", allow_pickle=True)
    assert list(loaded.starts) == [0] and loaded.events[3, 0] == 5.0


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"events": np.zeros((3, 2)), "starts": np.array([0])}, "missing meta"),
        (
            {
                "events": np.zeros((3, 2)),
                "starts": np.array([0]),
                "meta": np.array('{"dimension": 3}'),
            },
            r"events must be floats of shape \[n, 3\]",
        ),
        (
            {
                "events": np.full((3, 2), np.nan),
                "starts": np.array([0]),
                "meta": np.array('{"dimension": 2}'),
            },
            "NaN or infinite",
        ),
        (
            {
                "events": np.zeros((3, 2)),
                "starts": np.array([0, 5]),
                "meta": np.array('{"dimension": 2}'),
            },
            "starts must rise from 0 and stay below 3",
        ),
        (
            {
                "events": np.zeros((3, 2)),
                "starts": np.array([0]),
                "meta": np.array('{"dimension": "x"}'),
            },
            "meta.dimension must be an integer",
        ),
    ],
)
def test_bad_dataset_files_name_the_fault(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DatasetError, match=message):
        load_dataset(tmp_path / "bad.npz")


def test_not_a_zip_is_a_dataset_error(tmp_path):
    (tmp_path / "junk.npz").write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(DatasetError, match="cannot read dataset"):
        load_dataset(tmp_path / "junk.npz")


def test_impsy_dataset_command_prints_the_size(make_logs, tmp_path, capsys, monkeypatch):
    make_logs(dimension=4, performances=2, events=40)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["dataset"]) == 0
    out = capsys.readouterr().out
    assert out == ("datasets/training-dataset-4d.npz: 2 performances, 160 events, 0 min 18 s of playing\n")


def test_impsy_dataset_without_logs_is_one_friendly_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = subprocess.run([sys.executable, "-m", "impsy", "dataset"], capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr == "impsy: error: logs: no IMPSY logs (*-<D>d-mdrnn.log) found\n"


def test_a_dimension_with_no_performer_rows_does_not_block_the_others(
    make_logs, tmp_path, capsys, monkeypatch
):
    make_logs(dimension=4, performances=2, events=40)
    (tmp_path / "logs" / "2026-02-01T10-00-00-9d-mdrnn.log").write_text(
        "2026-02-01T10:00:00,rnn,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8\n"  # only the model played
    )
    monkeypatch.chdir(tmp_path)
    assert cli.main(["dataset"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "datasets/training-dataset-4d.npz: 2 performances, 160 events, 0 min 18 s of playing",
        "logs: no performer events in the 9d logs; no 9d dataset",
    ]


@pytest.mark.parametrize("gap", ["-1", "0", "nan", "inf", "five"])
def test_max_gap_must_be_a_number_of_seconds_above_0(tmp_path, gap):
    run = subprocess.run(
        [sys.executable, "-m", "impsy", "dataset", f"--max-gap={gap}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert run.returncode == 2
    assert f"--max-gap: expected a number of seconds above 0, found '{gap}'" in run.stderr
    assert not (tmp_path / "datasets").exists()


def test_a_value_too_big_for_float32_is_a_malformed_row(tmp_path):
    path = tmp_path / "2026-01-01T00-00-00-4d-mdrnn.log"
    path.write_text(
        "2026-01-01T00:00:00,interface,0.1,1e308,0.2\n2026-01-01T00:00:01,interface,0.1,0.2,0.3\n"
    )
    read = read_log(path)
    assert read.events == 1 and read.skipped == 1
    assert np.isfinite(read.controls).all()

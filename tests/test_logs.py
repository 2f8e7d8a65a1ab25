"""Log files: the original format, malformed rows skipped, rows written straight through."""

import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime

import numpy as np
import pytest

from impsy.logs import (
    LOG_RETRY,
    MAX_LINE,
    LogWriter,
    find_logs,
    format_row,
    log_dimension,
    log_lines,
    read_log,
)


def test_file_name_and_row_format_are_the_originals(tmp_path):
    writer = LogWriter(tmp_path, 4, datetime(2019, 1, 17, 12, 37, 38))
    writer.write("interface", [0.3359375, 0.296875, 0.5078125], datetime(2019, 1, 17, 12, 37, 38, 109979))
    writer.close()
    assert writer.path.name == "2019-01-17T12-37-38-4d-mdrnn.log"
    assert writer.path.read_text() == "2019-01-17T12:37:38.109979,interface,0.3359375,0.296875,0.5078125\n"
    assert log_dimension(writer.path) == 4


def test_malformed_rows_are_skipped_and_counted(tmp_path):
    path = tmp_path / "2020-01-01T00-00-00-3d-mdrnn.log"
    path.write_text(
        textwrap.dedent("""\
        2020-01-01T00:00:00.000000,interface,0.1,0.2
        2020-01-01T00:00:00.050000,rnn,0.9,0.9
        2020-01-01T00:00:00.100000,interface,0.3
        not-a-time,interface,0.1,0.2
        2020-01-01T00:00:00.200000,interface,zero,0.2
        2020-01-01T00:00:00.300000,interface,nan,0.2

        2020-01-01T00:00:00.400000,interface,0.5,0.6
        2020-01-01T00:00:00.5,interface,0.7,0.8,0.9
        """)
    )
    read = read_log(path)
    assert read.events == 2 and read.rows == 8 and read.skipped == 5
    assert np.allclose(read.controls, [[0.1, 0.2], [0.5, 0.6]])
    assert read.times[1] - read.times[0] == pytest.approx(0.4)
    assert read.problems[0] == f"{path.name}:3: expected 4 fields, found 3"
    assert any("a value is not a finite number" in p for p in read.problems)
    rnn = read_log(path, source="rnn")
    assert rnn.events == 1


def test_find_logs_ignores_other_files(tmp_path):
    for name in [
        "2020-01-01T00-00-00-3d-mdrnn.log",
        "2020-01-02T00-00-00-9d-mdrnn.log",
        "notes.txt",
        "2020-01-01-3d-mdrnn.log",
    ]:
        (tmp_path / name).write_text("")
    assert [p.name for p in find_logs(tmp_path)] == [
        "2020-01-01T00-00-00-3d-mdrnn.log",
        "2020-01-02T00-00-00-9d-mdrnn.log",
    ]
    assert len(find_logs(tmp_path, 9)) == 1
    assert find_logs(tmp_path / "absent") == []


def test_sigkill_loses_nothing_already_written(tmp_path):
    """A child writes rows, then is killed with SIGKILL mid-performance: every row is on disk."""
    script = textwrap.dedent(f"""
        import os, sys
        from impsy.logs import LogWriter
        w = LogWriter({str(tmp_path)!r}, 3)
        for i in range(1000):
            w.write("interface", [i / 1000, 0.5])
        print(w.path, flush=True)
        sys.stdin.read()  # wait to be killed, file still open
    """)
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    path = child.stdout.readline().strip()
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    with open(path) as handle:
        rows = handle.read().splitlines()
    assert len(rows) == 1000 and rows[-1].endswith(",interface,0.999,0.5")


def test_a_new_performance_never_goes_into_an_existing_log(tmp_path):
    started = datetime(2020, 1, 1)
    with LogWriter(tmp_path, 3, started) as first:
        first.write("interface", [0.1, 0.2])
    with LogWriter(tmp_path, 3, started) as second:  # same second, same name: a new file
        second.write("interface", [0.3, 0.4])
    assert first.path.read_text().count("\n") == 1 and second.path.read_text().count("\n") == 1
    assert second.path.name == "2020-01-01T00-00-00_2-3d-mdrnn.log"
    assert log_dimension(second.path) == 3


def test_a_clock_that_stepped_back_after_a_power_cut_gets_a_fresh_name(tmp_path):
    # Before the cut: runs at 12:00:00 (and its _2) and later; after it the clock restarts
    # from the last saved time and names come round again.
    before = datetime(2026, 6, 1, 12, 0, 0)
    for _ in range(2):
        with LogWriter(tmp_path, 9, before) as w:
            w.write("interface", [0.5] * 8)
    kept = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    after = LogWriter(tmp_path, 9, before)
    after.write("rnn", [0.25] * 8)
    after.close()
    assert after.path.name == "2026-06-01T12-00-00_3-9d-mdrnn.log"
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p != after.path} == kept
    assert read_log(after.path, source="rnn").events == 1


def test_a_name_taken_by_anything_is_skipped(tmp_path):
    started = datetime(2020, 1, 1)
    (tmp_path / "2020-01-01T00-00-00-3d-mdrnn.log").mkdir()  # not even a file
    os.symlink(tmp_path / "nowhere", tmp_path / "2020-01-01T00-00-00_2-3d-mdrnn.log")
    with LogWriter(tmp_path, 3, started) as w:
        assert w.write("interface", [0.1, 0.2])
    assert w.path.name == "2020-01-01T00-00-00_3-3d-mdrnn.log"
    assert not (tmp_path / "nowhere").exists()


def test_logs_sort_by_start_then_counter(tmp_path):
    started = datetime(2020, 1, 1)
    paths = []
    for _ in range(11):
        with LogWriter(tmp_path, 3, started) as w:
            paths.append(w.path)
    (tmp_path / "2020-01-01T00-00-01-3d-mdrnn.log").touch()
    assert find_logs(tmp_path) == [*paths, tmp_path / "2020-01-01T00-00-01-3d-mdrnn.log"]
    assert paths[-1].name == "2020-01-01T00-00-00_11-3d-mdrnn.log"
    # Names IMPSY never writes stay out: no counter 0 or 1, no leading zero.
    for name in ("2020-01-01T00-00-00_1-3d-mdrnn.log", "2020-01-01T00-00-00_02-3d-mdrnn.log"):
        assert log_dimension(name) is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_full_disk_is_reported_and_not_fatal_and_logging_resumes(tmp_path, caplog):
    clock = FakeClock()
    writer = LogWriter(tmp_path, 3, clock=clock)
    assert writer.write("interface", [0.1, 0.2])
    os.close(writer._fd)
    writer._fd = os.open("/dev/full", os.O_WRONLY)  # a real device whose writes fail with ENOSPC
    assert writer.write("interface", [0.3, 0.4]) is False
    assert writer.write("interface", [0.3, 0.4]) is False  # not retried at once
    assert writer.failed == 2 and writer.rows == 1
    clock.now += LOG_RETRY  # still full: the file opens, the row does not go in
    writer._fd = os.open("/dev/full", os.O_WRONLY)
    assert writer.write("interface", [0.3, 0.4]) is False
    assert caplog.text.count("the disk is full") == 1  # once, not at every retry
    assert "resumed" not in caplog.text
    clock.now += LOG_RETRY  # room again: the same file takes rows again
    assert writer.write("interface", [0.5, 0.6])
    writer.close()
    assert caplog.text.count("logging resumed after 3 rows were lost") == 1
    assert [row.split(",")[2:] for row in writer.path.read_text().splitlines()] == [
        ["0.1", "0.2"],
        ["0.5", "0.6"],
    ]


def test_a_log_folder_that_cannot_be_written_is_reported_not_raised(tmp_path, caplog):
    (tmp_path / "logs").write_text("a file where the folder should be")
    writer = LogWriter(tmp_path / "logs", 3, clock=FakeClock())
    assert writer.write("interface", [0.1, 0.2]) is False
    assert writer.failed == 1
    assert f"logging stopped: a file is in the way of the log folder {tmp_path / 'logs'}" in caplog.text


def test_a_row_cut_by_a_full_disk_is_ended_so_the_next_rows_read(tmp_path):
    clock = FakeClock()
    writer = LogWriter(tmp_path, 3, clock=clock)
    writer.write("interface", [0.1, 0.2])
    os.write(writer._fd, b"2020-01-01T00:00:00,interf")  # what a short write leaves behind
    writer._cut_row = True
    writer.close()
    assert writer.write("interface", [0.3, 0.4])
    writer.close()
    parsed = read_log(writer.path)
    assert np.allclose(parsed.controls, [[0.1, 0.2], [0.3, 0.4]])
    assert parsed.skipped == 1


def test_values_keep_full_precision():
    row = format_row(datetime(2020, 1, 1), "rnn", np.array([1 / 3, 0.5], np.float32))
    assert row == f"2020-01-01T00:00:00,rnn,{float(np.float32(1 / 3))!r},0.5\n"


def test_a_log_with_no_line_ends_is_read_in_bounded_pieces(tmp_path):
    path = tmp_path / "2026-01-01T00-00-00-3d-mdrnn.log"
    path.write_bytes(b"\0" * (MAX_LINE * 3 + 10) + b"\n2026-01-01T00:00:01,interface,0.1,0.2\n")
    with open(path, encoding="utf-8") as handle:
        assert max(len(line) for line in log_lines(handle)) <= MAX_LINE
    read = read_log(path)
    assert read.events == 1 and read.skipped == 4  # the NULs, as four malformed pieces

"""`impsy run` as a real process, talked to over real UDP sockets on loopback."""

import signal
import socket
import struct
import subprocess
import time

import pytest
from fakes.hostile_osc import HOSTILE
from udp_harness import WAIT, Impsy, kernel_drops

from impsy.channels import osc
from impsy.channels.osc import port_taken_hint
from impsy.dataset import build_dataset
from impsy.logs import read_log

pytestmark = pytest.mark.slow


@pytest.fixture
def impsy(tmp_path):
    running = []

    def start(**kwargs) -> Impsy:
        running.append(Impsy(tmp_path, **kwargs))
        return running[-1]

    yield start
    for process in running:
        if process.process.poll() is None:
            process.stop()


def test_interface_in_impsy_out_and_monitor(impsy):
    run = impsy()
    run.send("/interface", *[0.5] * 8)
    answer = run.client.next("/impsy")
    assert len(answer) == 8 and all(0.0 <= v <= 1.0 for v in answer)
    assert run.monitor.next("/monitor/in") == pytest.approx([0.5] * 8)
    assert len(run.monitor.next("/monitor/out")) == 8


def test_command_port_and_osc_commands_change_the_state(impsy):
    run = impsy()
    run.send("/impsy/mode", "useronly", port=run.command_port)
    run.send("/impsy/sigmatemp", 0.5, port=run.command_port)
    run.send("/impsy/pitemp", 2.0)  # the same commands on the [osc] port
    run.send("/impsy/pause", 1)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        state = run.state()
        wanted = ("useronly", 0.5, 2.0, True)
        if (state["mode"], state["sigmatemp"], state["pitemp"], state["paused"]) == wanted:
            break
    else:
        raise AssertionError(f"state never changed: {state}")
    assert state["model"]["dimension"] == 9 and state["model"]["size"] == "s"


def test_malformed_messages_are_dropped_and_counted(impsy):
    run = impsy()
    run.send("/interface", *[0.5] * 3)  # wrong count
    run.send("/interface", *[0.5] * 7, "x")  # wrong type
    run.send("/interface", *[0.5] * 7, float("nan"))
    run.send("/interface", *[0.5] * 7, 3.0)  # out of range
    run.send("/impsy/mode", "karaoke")
    run.send("/nowhere", 1)
    run.sender.sendto(b"\x00garbage", ("127.0.0.1", run.osc_port))
    # Packets that hang or flood python-osc itself (tests/channels/test_oscframe.py has more).
    bundle = b"#bundle\0" + b"\0" * 7 + b"\1"
    run.sender.sendto(bundle + struct.pack(">i", -4), ("127.0.0.1", run.osc_port))
    run.sender.sendto(b"/interface\0\0" + b"," + b"x" * 15_999 + b"\0" * 4, ("127.0.0.1", run.osc_port))
    run.send("/interface", *[0.25] * 8)  # and a good one still gets through
    assert run.client.next("/impsy")
    deadline = time.monotonic() + WAIT
    while run.state().get("dropped", {}).get("osc") != 9:
        assert time.monotonic() < deadline, run.state()
    out = run.stop()
    assert "/interface: expected 8 values, got 3" in out  # the first is warned about
    assert "9 malformed messages dropped" in out
    assert len(out.splitlines()) < 30  # one rate-limited warning, not one per bad item


def test_flood_every_accepted_message_is_logged_and_it_still_answers(impsy):
    run = impsy(mode="useronly")
    for i in range(10_000):
        run.send("/interface", i / 10_000, *[0.5] * 7)
        if i % 500 == 0:
            time.sleep(0.005)  # the kernel's UDP buffer is finite; we test IMPSY, not it
    deadline = time.monotonic() + WAIT
    while (accepted := run.state()["counts"].get("in", 0)) < 10_000 and time.monotonic() < deadline:
        pass
    # What the kernel dropped from a full socket buffer never reached IMPSY; every other message
    # is accepted (the kernel's own count of its drops, not IMPSY's, is the check).
    assert 1_000 <= accepted == 10_000 - kernel_drops(run.osc_port)
    run.send("/impsy/mode", "polyphony", port=run.command_port)
    run.client.drain()
    run.send("/interface", *[0.75] * 8)
    assert len(run.client.next("/impsy")) == 8  # still answering
    run.stop()
    (log,) = list(run.logs.iterdir())
    rows = read_log(log)
    assert rows.events == accepted + 1 and rows.skipped == 0
    firsts = rows.controls[:-1, 0]
    assert len(set(firsts.tolist())) == accepted  # each one once
    assert list(firsts) == sorted(firsts)  # in order


def test_logs_written_here_load_in_the_dataset_builder(impsy):
    run = impsy(mode="useronly")
    for i in range(60):
        run.send("/interface", *[i / 60] * 8)
        time.sleep(0.002)
    while run.state()["counts"].get("in", 0) < 60:
        pass
    run.stop()
    dataset, report = build_dataset(run.logs, 9)
    assert len(dataset.events) == 60 and report.skipped == 0
    assert dataset.events[-1, 1:] == pytest.approx([59 / 60] * 8)


@pytest.mark.parametrize(
    ("port", "key"), [("osc_port", "osc.server_port"), ("command_port", "webui.command_port")]
)
def test_a_port_in_use_names_the_address_and_its_key(impsy, port, key):
    # What a user meets running `impsy run` over SSH while the impsy-run service plays.
    run = impsy(wait=False)
    run.stop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", getattr(run, port)))
        again = subprocess.run(
            run.process.args, cwd=run.logs.parent, capture_output=True, text=True, timeout=60
        )
    assert again.returncode != 0
    assert again.stderr.strip().splitlines()[-1] == (
        f"impsy: error: {'osc' if key.startswith('osc') else 'control'}: cannot listen on "
        f"127.0.0.1:{getattr(run, port)} ({key}): Address already in use; {port_taken_hint(key)}"
    )


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT])
def test_every_terminating_signal_stops_it_with_its_shutdown(impsy, sig):
    # SIGHUP is an SSH terminal closed under `impsy run`: it used to kill it outright.
    run = impsy(mode="useronly")
    run.send("/interface", *[0.5] * 8)
    assert run.monitor.next("/monitor/in") == pytest.approx([0.5] * 8)
    run.process.send_signal(sig)
    out, _ = run.process.communicate(timeout=WAIT)
    assert run.process.returncode == 0, out
    assert "stopped: 1 inputs" in out and "logged to" in out  # notes silenced, channels and log closed
    (log,) = list(run.logs.iterdir())
    assert read_log(log).events == 1


def test_a_closed_stdout_costs_no_input_and_no_log_row(impsy, tmp_path):
    # `impsy run --verbose | head -n 1`: the pipe closes after one line; the shipped config is verbose.
    with (tmp_path / "stderr.txt").open("w") as stderr:
        run = impsy(verbose=True, stderr=stderr)
        run.send("/interface", *[0.5] * 8)
        assert run.process.stdout.readline().startswith("in ")
        run.process.stdout.close()
        for i in range(50):
            run.send("/interface", *[i / 50] * 8)
            assert len(run.client.next("/impsy")) == 8  # it still answers, every time
        deadline = time.monotonic() + WAIT
        while run.state()["counts"].get("in", 0) < 51:
            assert time.monotonic() < deadline, run.state()
        run.process.terminate()
        assert run.process.wait(WAIT) == 0
    (log,) = list(run.logs.iterdir())
    assert read_log(log).events == 51
    said = (tmp_path / "stderr.txt").read_text()
    assert said.count("printing stops") == 1 and "Traceback" not in said and "Exception" not in said, said


def test_hostile_datagrams_and_extreme_commands_cost_no_good_input(impsy):
    """Every hostile datagram shape and every out-of-range command, on the [osc] port and on the
    web UI's command port, between good inputs: each bad one dropped and counted, none applied,
    every good one logged."""
    run = impsy(mode="useronly")
    extreme = [("/impsy/sigmatemp", 1e30), ("/impsy/sigmatemp", -1.0), ("/impsy/pitemp", 1e9),
               ("/impsy/timescale", 0.0), ("/impsy/timescale", float("inf")), ("/impsy/mode", "x"),
               ("/impsy/pause", 2)]  # fmt: skip
    good = 0
    for port in (run.osc_port, run.command_port):
        for make in HOSTILE.values():
            run.sender.sendto(make(), ("127.0.0.1", port))
            run.send("/interface", good / 100, *[0.5] * 7)
            good += 1
        for address, value in extreme:
            run.send(address, value, port=port)
            run.send("/interface", good / 100, *[0.5] * 7)
            good += 1
    bad = len(HOSTILE) + len(extreme)
    deadline = time.monotonic() + WAIT
    while (state := run.state())["dropped"] != {"osc": bad, "control": bad} or state["counts"].get(
        "in"
    ) != good:
        assert time.monotonic() < deadline, state
    assert (state["sigmatemp"], state["pitemp"], state["timescale"], state["mode"]) == (
        0.01,
        1.0,
        0.001,
        "useronly",
    )
    run.stop()
    (log,) = list(run.logs.iterdir())
    assert read_log(log).controls[:, 0].tolist() == pytest.approx([i / 100 for i in range(good)])


def test_a_second_impsy_run_names_the_osc_port_not_the_web_uis(impsy):
    first = impsy()
    args = first.process.args
    again = subprocess.run(args, cwd=first.logs.parent, capture_output=True, text=True, timeout=60)
    first.stop()
    last = again.stderr.strip().splitlines()[-1]
    assert f"osc: cannot listen on 127.0.0.1:{first.osc_port} (osc.server_port)" in last
    assert "command_port" not in last


def test_a_port_in_use_suggests_systemctl_only_where_the_service_is_installed(tmp_path, monkeypatch):
    monkeypatch.setattr(osc, "SERVICE_FOLDERS", (str(tmp_path),))
    assert "systemctl" not in port_taken_hint("osc.server_port")  # a laptop
    assert "another terminal" in port_taken_hint("osc.server_port")
    (tmp_path / "impsy-run.service").touch()  # the instrument
    assert "sudo systemctl stop impsy-run" in port_taken_hint("osc.server_port")


def test_impsy_run_says_where_its_answers_go(impsy):
    run = impsy()
    out = run.stop()
    assert (
        f"osc: listening on 127.0.0.1:{run.osc_port} for /interface with 8 values from 0 to 1; "
        f"answers go to 127.0.0.1:{run.client.port} as /impsy"
    ) in out

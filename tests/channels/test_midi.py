"""[midi] through mido, with a fake backend at mido's backend seam ($MIDO_BACKEND).

The real path below mido is python-rtmidi and the ALSA sequencer; these machines have no
sound card, so tests/fakes/mido_backend.py stands in for it (delivering input on its own
thread, as rtmidi does), and the appliance image's tests add a real ALSA test in the booted
image.
"""

from __future__ import annotations

import logging

import mido
import numpy as np
import pytest
from fakes import mido_backend as fake
from fakes.sink import RecordingSink, run, settle, until
from hypothesis import given, settings
from hypothesis import strategies as st

from impsy.channels import midi
from impsy.channels.midi import MidiChannel, port_names, print_port_names
from impsy.config import parse_config

QUNEO = "QuNeo:QuNeo MIDI 1 20:0"
S1 = "S-1:S-1 MIDI 1 24:0"
S1_REPLUGGED = "S-1:S-1 MIDI 1 28:0"  # ALSA gives a replugged device a new client number

TWO_INS_ONE_OUT = """
[midi]
in_device = ["QuNeo", "S-1"]
out_device = ["S-1"]
input."QuNeo" = [["note_on", 1], ["note_velocity", 1], ["control_change", 1, 3, 20, 100]]
input."S-1" = [["note_on", 10], ["control_change", 10, 74], ["pitch_bend", 10]]
output."S-1" = [["note_on", 10], ["control_change", 10, 74], ["pitch_bend", 10]]
"""


@pytest.fixture(autouse=True)
def backend(monkeypatch, tmp_path):
    monkeypatch.setenv("MIDO_BACKEND", "fakes.mido_backend")
    monkeypatch.setattr(midi, "SOUND_DEVICES", tmp_path / "snd")  # not this machine's sound cards
    fake.reset()
    yield fake
    fake.reset()


def make(midi_section: str, dimension: int = 4) -> tuple[MidiChannel, RecordingSink]:
    text = (
        "[interaction]\nmode = 'callresponse'\nthreshold = 0.1\n"
        f"[model]\ndimension = {dimension}\nsigmatemp = 0.01\npitemp = 1\ntimescale = 1\n{midi_section}"
    )
    config, problems = parse_config(text)
    assert config is not None, problems
    sink = RecordingSink()
    return MidiChannel(config.midi, sink, dimension), sink


def note(note: int, velocity: int = 100, channel: int = 0) -> mido.Message:
    return mido.Message("note_on", channel=channel, note=note, velocity=velocity)


def cc(control: int, value: int, channel: int = 0) -> mido.Message:
    return mido.Message("control_change", channel=channel, control=control, value=value)


def test_the_fake_backend_is_the_one_mido_loaded():
    assert mido.Backend().module is fake  # so the channel below runs through mido's seam


# ---- in -------------------------------------------------------------------------------------------


def test_each_input_through_its_own_mapping():
    fake.plug(QUNEO, output=False)
    fake.plug(S1)
    channel, sink = make(TWO_INS_ONE_OUT)

    async def go():
        await channel.start()
        fake.play(QUNEO, note(64, velocity=127), cc(3, 60), note(64, channel=9))
        fake.play(S1, note(127, channel=9), cc(74, 0, channel=9))
        fake.play(S1, mido.Message("pitchwheel", channel=9, pitch=8191), mido.Message("clock"))
        await settle()
        await channel.close()

    run(go())
    assert sink.changes == [
        {0: 64 / 127, 1: 1.0},  # one note: its pitch and velocity arrive as one event
        {2: 0.5},  # controller 3 mapped into 20-100
        {0: 1.0},
        {1: 0.0},
        {2: 1.0},
    ]
    assert sink.sources == {"midi"} and sink.drops == []


def test_ports_match_by_case_sensitive_substring(caplog):
    fake.plug("s-1 lower case")
    fake.plug("Another S-1 synth")
    fake.plug(S1)
    channel, _ = make(TWO_INS_ONE_OUT.replace('"QuNeo"', '"Nothing"'))

    async def go():
        await channel.start()
        opened = {entry.pattern: entry.port.name for entry in channel.inputs if entry.port}
        await channel.close()
        return opened

    with caplog.at_level(logging.WARNING):
        opened = run(go())
    assert opened == {"S-1": "Another S-1 synth"}  # the first that contains it, capitals and all
    assert 'no input port contains "Nothing"' in caplog.text


# ---- out ------------------------------------------------------------------------------------------


def test_each_output_through_its_own_mapping_controllers_only_when_they_change():
    fake.plug(S1)
    fake.plug("Microfreak", input=False)
    channel, _ = make(
        """
[midi]
out_device = ["S-1", "Microfreak"]
output."S-1" = [["note_on", 10], ["control_change", 10, 74], ["note_velocity", 10]]
output."Microfreak" = [["control_change", 1, 23, 0, 64], ["pitch_bend", 2], ["note_on", 1]]
"""
    )

    async def go():
        await channel.start()
        channel.send(np.array([0.5, 1.0, 0.5]))
        channel.send(np.array([0.5, 1.0, 0.5]))
        await channel.close()

    run(go())
    s1 = [m.dict() for m in fake.sent[S1]]
    assert s1 == [
        {"type": "control_change", "time": 0, "channel": 9, "control": 74, "value": 127},
        {"type": "note_on", "time": 0, "channel": 9, "note": 64, "velocity": 64},
        {"type": "note_off", "time": 0, "channel": 9, "note": 64, "velocity": 0},
        {"type": "note_on", "time": 0, "channel": 9, "note": 64, "velocity": 64},
        {"type": "note_off", "time": 0, "channel": 9, "note": 64, "velocity": 0},  # at close
    ]
    freak = [m.dict() for m in fake.sent["Microfreak"]]
    assert freak == [
        {"type": "control_change", "time": 0, "channel": 0, "control": 23, "value": 32},
        {"type": "pitchwheel", "time": 0, "channel": 1, "pitch": 8191},
        {"type": "note_on", "time": 0, "channel": 0, "note": 64, "velocity": 127},
        {"type": "note_off", "time": 0, "channel": 0, "note": 64, "velocity": 0},
        {"type": "note_on", "time": 0, "channel": 0, "note": 64, "velocity": 127},
        {"type": "note_off", "time": 0, "channel": 0, "note": 64, "velocity": 0},
    ]


def test_silence_and_close_end_every_note_and_close_every_port():
    fake.plug(S1)
    channel, _ = make(TWO_INS_ONE_OUT)

    async def go():
        await channel.start()
        channel.send(np.array([0.5, 0.5, 0.5]))
        assert fake.sounding(S1) == {(9, 64)}
        channel.silence()
        assert fake.sounding(S1) == set()
        channel.send(np.array([0.25, 0.5, 0.5]))
        await channel.close()

    run(go())
    assert fake.sounding(S1) == set()
    assert fake._inputs == []  # every input port closed
    assert not any(m.type == "control_change" and m.control == 123 for m in fake.sent[S1])


# ---- hot-plug -------------------------------------------------------------------------------------


def test_a_device_missing_at_start_is_a_warning_and_opens_when_it_appears(caplog):
    channel, sink = make(TWO_INS_ONE_OUT)

    async def go():
        with caplog.at_level(logging.WARNING):
            await channel.start()  # nothing plugged in: no crash
        channel.send(np.array([0.5, 0.5, 0.5]))  # to nowhere, harmlessly
        fake.plug(S1)
        await channel.check_ports()
        channel.send(np.array([0.5, 0.5, 0.5]))
        fake.play(S1, note(60, channel=9))
        await settle()
        await channel.close()

    run(go())
    assert 'no output port contains "S-1"' in caplog.text
    assert 'no input port contains "QuNeo"' in caplog.text
    assert fake.sent[S1][-2:] == [
        mido.Message("note_on", channel=9, note=64, velocity=127),
        mido.Message("note_off", channel=9, note=64, velocity=0),
    ]
    assert sink.changes == [{0: 60 / 127}]


def test_an_unplugged_output_is_reopened_when_it_comes_back():
    fake.plug(S1)
    channel, _ = make(TWO_INS_ONE_OUT)

    async def go():
        await channel.start()
        channel.send(np.array([0.5, 0.5, 0.5]))
        fake.unplug(S1)  # the cable is pulled: the synth stops and forgets
        channel.send(np.array([0.25, 0.5, 0.5]))  # lost on the dead port
        await channel.check_ports()
        assert channel.outputs[0].port is None
        fake.plug(S1_REPLUGGED)
        await channel.check_ports()
        assert channel.outputs[0].port.name == S1_REPLUGGED
        channel.send(np.array([1.0, 0.5, 0.5]))
        await channel.close()

    run(go())
    assert fake.lost  # what went to the dead port went nowhere
    # The synth came back fresh: the controller is sent again, the new note starts and ends.
    assert [m.dict() for m in fake.sent[S1_REPLUGGED]] == [
        {"type": "control_change", "time": 0, "channel": 9, "control": 74, "value": 64},
        {"type": "pitchwheel", "time": 0, "channel": 9, "pitch": 0},
        {"type": "note_on", "time": 0, "channel": 9, "note": 127, "velocity": 127},
        {"type": "note_off", "time": 0, "channel": 9, "note": 127, "velocity": 0},
    ]


def test_an_unplugged_input_is_reopened_when_it_comes_back():
    fake.plug(S1)
    channel, sink = make(TWO_INS_ONE_OUT)

    async def go():
        await channel.start()
        fake.unplug(S1)
        await channel.check_ports()
        fake.play(S1, note(10, channel=9))  # unplugged: nothing can arrive
        fake.plug(S1_REPLUGGED)
        await channel.check_ports()
        fake.play(S1_REPLUGGED, note(20, channel=9))
        await settle()
        await channel.close()

    run(go())
    assert sink.changes == [{0: 20 / 127}]


def test_a_device_pulled_out_and_plugged_back_between_two_looks_is_reopened(tmp_path):
    # ALSA gives it the same port name again; its sound card's device node is new.
    snd = tmp_path / "snd"
    snd.mkdir()
    (snd / "controlC2").touch()  # card 2: ALSA client 24, as in "... 24:0"
    fake.plug(S1)
    channel, sink = make(TWO_INS_ONE_OUT)

    async def go():
        await channel.start()
        channel.send(np.array([0.5, 0.5, 0.5]))
        fake.unplug(S1)
        fake.plug(S1)  # back within a second and a half: the open ports are dead now
        (snd / "controlC2.new").touch()
        (snd / "controlC2.new").replace(snd / "controlC2")
        await channel.check_ports()
        channel.send(np.array([1.0, 0.5, 0.5]))
        fake.play(S1, note(5, channel=9))
        await settle()
        await channel.close()

    run(go())
    assert fake.sounding(S1) == set()
    assert fake.sent[S1][-4:] == [
        mido.Message("control_change", channel=9, control=74, value=64),  # a fresh synth: sent again
        mido.Message("pitchwheel", channel=9, pitch=0),
        mido.Message("note_on", channel=9, note=127, velocity=127),
        mido.Message("note_off", channel=9, note=127, velocity=0),
    ]
    assert sink.changes == [{0: 5 / 127}]


def test_the_presence_check_runs_by_itself_on_a_slow_timer(monkeypatch):
    monkeypatch.setattr(midi, "HOTPLUG_INTERVAL", 0.01)
    channel, sink = make(TWO_INS_ONE_OUT)

    async def go():
        await channel.start()
        fake.plug(S1)
        await until(lambda: channel.inputs[1].port is not None, "S-1 opened by the timer")
        fake.unplug(S1)
        await until(lambda: channel.inputs[1].port is None, "S-1 closed by the timer")
        fake.plug(S1)
        await until(lambda: channel.inputs[1].port is not None, "S-1 reopened by the timer")
        fake.play(S1, note(30, channel=9))
        await settle()
        await channel.close()

    run(go())
    assert sink.changes == [{0: 30 / 127}]


# ---- thru and feedback ------------------------------------------------------------------------------

THRU = """
[midi]
in_device = ["QuNeo", "S-1"]
out_device = ["S-1"]
feedback_protection = FEEDBACK
feedback_threshold = 0.02
input."QuNeo" = [["note_on", 1], ["control_change", 1, 1]]
input."S-1" = [["note_on", 10], ["control_change", 10, 74]]
output."S-1" = [["note_on", 10], ["control_change", 10, 74]]
thru_matrix."QuNeo" = ["S-1"]
"""


def test_thru_matrix_passes_an_input_straight_to_its_outputs_and_still_feeds_impsy():
    fake.plug(QUNEO, output=False)
    fake.plug(S1)
    channel, sink = make(THRU.replace("FEEDBACK", "false"), dimension=3)

    async def go():
        await channel.start()
        fake.play(
            QUNEO, note(60), cc(1, 64), mido.Message("program_change", program=5), mido.Message("clock")
        )
        fake.play(S1, note(62, channel=9))  # S-1 has no thru route: not sent back to itself
        await settle()
        await channel.close()

    run(go())
    thru = [note(60), cc(1, 64), mido.Message("program_change", program=5), mido.Message("clock")]
    assert fake.sent[S1][:4] == thru
    assert sink.changes == [{0: 60 / 127}, {1: 64 / 127}, {0: 62 / 127}]
    # The thru note was still held when IMPSY stopped: it was ended at close.
    assert fake.sent[S1][4:] == [mido.Message("note_off", channel=0, note=60)]
    assert fake.sounding(S1) == set()


def test_notes_held_thru_an_input_that_is_unplugged_are_ended():
    fake.plug(QUNEO, output=False)
    fake.plug(S1)
    channel, _ = make(THRU.replace("FEEDBACK", "false"), dimension=3)

    async def go():
        await channel.start()
        fake.play(QUNEO, note(60), note(61), note(61, velocity=0))
        await settle()
        assert fake.sounding(S1) == {(0, 60)}
        fake.unplug(QUNEO)  # its note off for 60 will never come
        await channel.check_ports()
        assert fake.sounding(S1) == set()
        await channel.close()

    run(go())


def protected():
    """A channel with feedback protection, on a clock the test moves: (channel, sink, now)."""
    channel, sink = make(THRU.replace("FEEDBACK", "true"), dimension=3)
    now = [100.0]
    channel.clock = lambda: now[0]
    return channel, sink, now


def test_feedback_protection_ignores_echoes_of_our_own_output_within_the_threshold():
    fake.plug(QUNEO, output=False)
    fake.plug(S1)
    channel, sink, now = protected()

    async def go():
        await channel.start()
        channel.send(np.array([64 / 127, 0.5]))  # note 64 and CC 74 = 64 on channel 10
        now[0] += 0.01
        fake.play(S1, note(64, velocity=90, channel=9), cc(74, 64, channel=9))  # the synth echoes
        await settle()
        assert sink.changes == [] and channel.echoes == 2
        fake.play(S1, note(65, channel=9), cc(74, 65, channel=9))  # not what we sent: played
        await settle()
        assert sink.changes == [{0: 65 / 127}, {1: 65 / 127}]
        now[0] += 0.02  # past the threshold: the performer playing the same note is heard
        fake.play(S1, note(64, channel=9))
        await settle()
        assert sink.changes[-1] == {0: 64 / 127}
        # A thru note comes back from the synth as an echo too, and is not fed to IMPSY twice.
        fake.play(QUNEO, note(40))
        fake.play(S1, note(40))
        await settle()
        assert sink.changes[-1] == {0: 40 / 127} and channel.echoes == 3
        await channel.close()

    run(go())


def test_an_echo_is_timed_when_it_arrives_not_when_the_loop_gets_to_it():
    fake.plug(S1)
    channel, sink, now = protected()

    async def go():
        await channel.start()
        channel.send(np.array([64 / 127, 0.5]))
        now[0] += 0.005
        fake.play(S1, note(64, channel=9))  # rtmidi's thread hears it 5 ms after the send...
        now[0] += 0.05  # ...and the loop, busy with a model step, gets to it 50 ms later
        await settle()
        await channel.close()

    run(go())
    assert sink.changes == [] and channel.echoes == 1


def test_without_feedback_protection_echoes_are_heard():
    fake.plug(S1)
    channel, sink = make(THRU.replace("FEEDBACK", "false"), dimension=3)
    channel.clock = lambda: 0.0

    async def go():
        await channel.start()
        channel.send(np.array([64 / 127, 0.5]))
        fake.play(S1, note(64, channel=9))
        await settle()
        await channel.close()

    run(go())
    assert sink.changes == [{0: 64 / 127}] and channel.echoes == 0


# ---- the property: no hanging notes -----------------------------------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.lists(st.floats(0, 1), min_size=2, max_size=2)),
        st.tuples(st.just("silence"), st.none()),
        st.tuples(st.just("thru on"), st.integers(58, 62)),
        st.tuples(st.just("thru off"), st.integers(58, 62)),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(operations)
def test_after_any_outputs_thru_notes_and_a_stop_no_note_is_left_on(ops):
    fake.reset()
    fake.plug(QUNEO, output=False)
    fake.plug(S1)
    channel, _ = make(
        """
[midi]
in_device = ["QuNeo"]
out_device = ["S-1"]
input."QuNeo" = [["note_on", 1], ["note_on", 1]]
output."S-1" = [["note_on", 1], ["note_on", 1]]
thru_matrix."QuNeo" = ["S-1"]
""",
        dimension=3,
    )

    async def go():
        await channel.start()
        for op, arg in ops:
            if op == "send":
                channel.send(np.array(arg))
            elif op == "silence":
                channel.silence()
            else:
                fake.play(QUNEO, note(arg, velocity=100 if op == "thru on" else 0))
                await settle()
        await channel.close()

    run(go())
    assert fake.sounding(S1) == set()


# ---- impsy midi-ports ---------------------------------------------------------------------------------


def test_midi_ports_lists_names_to_copy_into_the_config(capsys):
    fake.plug(QUNEO, output=False)
    fake.plug(S1)
    assert port_names() == ([QUNEO, S1], [S1])
    assert print_port_names() == 0
    out = capsys.readouterr().out
    assert out.startswith(f'MIDI inputs (for in_device):\n  "{QUNEO}"\n  "{S1}"\n')
    assert f'MIDI outputs (for out_device):\n  "{S1}"\n' in out


def test_midi_ports_with_no_devices_says_so(capsys):
    assert print_port_names() == 0
    assert "(none: is the device plugged in and switched on?)" in capsys.readouterr().out


def test_midi_ports_without_a_midi_system_is_a_friendly_error(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(midi, "SEQUENCER", str(tmp_path))  # the sequencer is there, yet rtmidi fails
    fake.listing_error = OSError("MidiInAlsa::initialize: error creating ALSA sequencer client object.")
    assert print_port_names() == 1
    err = capsys.readouterr().err
    assert err.startswith("impsy midi-ports: cannot list MIDI ports: MidiInAlsa::initialize")
    assert "Traceback" not in err


def test_midi_ports_without_a_sequencer_says_what_to_load(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(midi, "SEQUENCER", str(tmp_path / "seq"))
    fake.listing_error = OSError("MidiInAlsa::initialize: error creating ALSA sequencer client object.")
    assert print_port_names() == 1
    err = capsys.readouterr().err
    assert "this machine has no ALSA sequencer (/dev/snd/seq)" in err and "sudo modprobe snd-seq" in err
    assert "MidiInAlsa" not in err


def test_a_channel_started_without_a_midi_system_warns_and_keeps_trying(caplog, monkeypatch, tmp_path):
    monkeypatch.setattr(midi, "SEQUENCER", str(tmp_path))
    fake.listing_error = OSError("no ALSA here")
    channel, _ = make(TWO_INS_ONE_OUT)

    async def go():
        with caplog.at_level(logging.WARNING):
            await channel.start()
        fake.listing_error = None
        fake.plug(S1)
        await channel.check_ports()
        opened = channel.outputs[0].port is not None
        await channel.close()
        return opened

    assert run(go())
    assert "midi: cannot list MIDI ports: no ALSA here" in caplog.text

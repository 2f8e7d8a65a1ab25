"""Inside the VM: play a gesture into `impsy run` through the real ALSA sequencer and
wait for IMPSY's answer. Run with the image's venv python (mido + python-rtmidi).

    midi_roundtrip.py CONFIG DIMENSION TIMEOUT [cable]

By default it opens two rtmidi virtual ports, a "controller" (our output, IMPSY's input)
and a "synth" (our input, IMPSY's output). With `cable` it plays the laptop instead: the
host side of the USB cable, where the gadget's MIDI function is a USB MIDI device named
IMPSY, and IMPSY takes its input from and sends its output to its side of the cable,
the ALSA port f_midi. Either way it adds a [midi] section naming the ports to the config,
restarts impsy-run so it opens them, sends control changes, then prints the first
messages IMPSY plays. The config is restored afterwards.
"""

import shutil
import subprocess
import sys
import time

import mido

CONTROLLER, SYNTH = "impsy-test-controller", "impsy-test-synth"
CABLE = "f_midi"  # the Pi's side of the gadget's MIDI function (its ALSA card's name)


def midi_section(dimension: int, controller: str, synth: str) -> str:
    mapping = ", ".join(f'["control_change", 1, {cc}]' for cc in range(1, dimension))
    return (
        "\n[midi]\n"
        f'in_device = ["{controller}"]\n'
        f'out_device = ["{synth}"]\n'
        f'input."{controller}" = [{mapping}]\n'
        f'output."{synth}" = [{mapping}]\n'
    )


def laptop_port(names: list[str]) -> str | None:
    """The host side of the cable: the USB MIDI device the gadget's product string names."""
    return next((n for n in names if n.startswith("IMPSY") and CABLE not in n), None)


def restart_impsy_run() -> None:
    subprocess.run(["sudo", "systemctl", "restart", "impsy-run.service"], check=True, timeout=240)


def main() -> int:
    config, dimension, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    cable = sys.argv[4:] == ["cable"]
    backup = config + ".before-midi-test"
    if cable:
        with open("/proc/asound/cards") as cards:
            print("laptop's sound cards:", " | ".join(ln.strip() for ln in cards if "]:" in ln), flush=True)
        out_port, in_port = laptop_port(mido.get_output_names()), laptop_port(mido.get_input_names())
        if not (out_port and in_port):
            print("the laptop sees no USB MIDI device named IMPSY:", mido.get_input_names(), flush=True)
            return 1
        print(f"laptop plays into {out_port!r} and listens on {in_port!r}", flush=True)
        controller, synth = mido.open_output(out_port), mido.open_input(in_port)
        names = (CABLE, CABLE)
    else:
        controller = mido.open_output(CONTROLLER, virtual=True, client_name="impsy-test")
        synth = mido.open_input(SYNTH, virtual=True, client_name="impsy-test")
        names = (CONTROLLER, SYNTH)
    shutil.copyfile(config, backup)
    try:
        with open(config, "a") as f:
            f.write(midi_section(dimension, *names))
        restart_impsy_run()
        print("impsy-run restarted with", names[0], "->", names[1], flush=True)
        time.sleep(2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # A short phrase, then silence: in callresponse mode IMPSY answers the pause.
            for step in range(8):
                for cc in range(1, dimension):
                    value = (step * 13 + cc * 7) % 128
                    controller.send(mido.Message("control_change", channel=0, control=cc, value=value))
                time.sleep(0.05)
            pause_end = time.monotonic() + 3
            while time.monotonic() < pause_end:
                message = synth.poll()
                if message is not None:
                    time.sleep(0.5)  # the rest of the answer's first gestures
                    answer = [message, *synth.iter_pending()]
                    print(f"answer ({len(answer)} messages):", "; ".join(map(str, answer[:6])), flush=True)
                    return 0
                time.sleep(0.01)
        print("no answer from IMPSY on", names[1], flush=True)
        return 1
    finally:
        shutil.copyfile(backup, config)
        subprocess.run(["rm", "-f", backup], check=False)
        restart_impsy_run()


if __name__ == "__main__":
    sys.exit(main())

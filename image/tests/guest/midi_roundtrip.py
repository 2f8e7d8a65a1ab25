"""Inside the VM: play a gesture into `impsy run` through the real ALSA sequencer and
wait for IMPSY's answer. Run with the image's venv python (mido + python-rtmidi).

Opens two rtmidi virtual ports, a "controller" (our output, IMPSY's input) and a
"synth" (our input, IMPSY's output), adds a [midi] section naming them to the
config, restarts impsy-run so it opens them, sends control changes, then prints
the first message IMPSY plays. The config is restored afterwards.
"""

import shutil
import subprocess
import sys
import time

import mido

CONTROLLER, SYNTH = "impsy-test-controller", "impsy-test-synth"


def midi_section(dimension: int) -> str:
    mapping = ", ".join(f'["control_change", 1, {cc}]' for cc in range(1, dimension))
    return (
        "\n[midi]\n"
        f'in_device = ["{CONTROLLER}"]\n'
        f'out_device = ["{SYNTH}"]\n'
        f'input."{CONTROLLER}" = [{mapping}]\n'
        f'output."{SYNTH}" = [{mapping}]\n'
    )


def restart_impsy_run() -> None:
    subprocess.run(["sudo", "systemctl", "restart", "impsy-run.service"], check=True, timeout=240)


def main() -> int:
    config, dimension, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    backup = config + ".before-midi-test"
    controller = mido.open_output(CONTROLLER, virtual=True, client_name="impsy-test")
    synth = mido.open_input(SYNTH, virtual=True, client_name="impsy-test")
    shutil.copyfile(config, backup)
    try:
        with open(config, "a") as f:
            f.write(midi_section(dimension))
        restart_impsy_run()
        print("impsy-run restarted with", CONTROLLER, "->", SYNTH, flush=True)
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
                    print("answer", message, flush=True)
                    return 0
                time.sleep(0.01)
        print("no answer from IMPSY on", SYNTH, flush=True)
        return 1
    finally:
        shutil.copyfile(backup, config)
        subprocess.run(["rm", "-f", backup], check=False)
        restart_impsy_run()


if __name__ == "__main__":
    sys.exit(main())

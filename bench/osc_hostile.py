"""CPU the loop spends on one OSC datagram, hostile shapes against a performer's normal packet.

Each datagram goes through what `impsy run` does with it: framing, parsing, dispatch to the
[osc] channel, and (for /interface) a vector to the sink. Thread CPU time, best of 5 rounds.

usage: python bench/osc_hostile.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakes.hostile_osc import HOSTILE, cpu_per_datagram, normal


def main() -> int:
    base = cpu_per_datagram(normal(), 2000)
    print(f"{'normal /interface (8 floats)':24s} {base * 1e6:9.1f} us")
    for name, make in HOSTILE.items():
        cost = cpu_per_datagram(make(), 20)
        print(f"{name:24s} {cost * 1e6:9.1f} us  ({cost / base:6.1f} x normal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

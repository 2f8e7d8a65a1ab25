"""Facts about the machine for the dashboard: disk space, CPU temperature."""

from __future__ import annotations

from pathlib import Path

THERMAL = Path("/sys/class/thermal")


def cpu_temperature(thermal: Path = THERMAL) -> float | None:
    """Degrees Celsius of the CPU, where the board reports one (a Pi does; most VMs do not)."""
    zones = sorted(thermal.glob("thermal_zone*")) if thermal.is_dir() else []
    for zone in zones:
        try:
            kind = (zone / "type").read_text().strip()
            millidegrees = int((zone / "temp").read_text().strip())
        except (OSError, ValueError):
            continue
        if kind in ("cpu-thermal", "cpu_thermal", "soc_thermal", "x86_pkg_temp") or zone == zones[0]:
            return millidegrees / 1000
    return None


def human_bytes(count: int | None) -> str:
    if count is None:
        return "unknown"
    size = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover


def human_number(value: object) -> str:
    """A setting as people write it: OSC carries 0.3 as 0.30000001192092896, shown as 0.3."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-" if value is None else str(value)
    return f"{value:.4g}"


def human_duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"

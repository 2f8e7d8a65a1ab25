"""The settings a config holds, as frozen dataclasses, and the names its keys may take."""

from __future__ import annotations

from dataclasses import dataclass, field

MODES = ("callresponse", "polyphony", "battle", "useronly")
GPIO_COMMANDS = ("mode", "pause", "reset")
GPIO_ACTIVITIES = ("input", "output", "playing")
PIN_FACTORIES = ("lgpio", "rpigpio", "pigpio", "native", "mock")
# Values per event: dt and at least one control; the largest fits one OSC message's arguments.
DIMENSION_RANGE = (2, 64)
BAUDRATE_RANGE = (50, 4_000_000)  # what Linux serial drivers offer


@dataclass(frozen=True)
class Range:
    """The numbers a setting takes, low to high, both included. The live settings' ranges are
    shared by the config and by /impsy/* commands, so no channel can set what a file cannot."""

    low: float
    high: float

    def __contains__(self, value: object) -> bool:
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        return is_number and self.low <= value <= self.high  # NaN is never in a range

    def __str__(self) -> str:
        return f"a number from {self.low:g} to {self.high:g}"


THRESHOLD = Range(0, 60)  # seconds of stillness before the model answers
RESEED = Range(0, 3600)  # seconds of a hold before the model playing alone starts afresh
SIGMATEMP = Range(0, 10)  # beyond this the noise drowns every gesture
PITEMP = Range(0, 100)  # beyond this every mixture component is as likely
PERSISTENCE = Range(0, 0.999)  # 1 would keep one mixture component for good
TIMESCALE = Range(0.001, 100)  # x1000 faster (MIN_INTERVAL bounds it anyway) to x100 slower
FEEDBACK_THRESHOLD = Range(0, 1)  # seconds; a synth echoes within milliseconds
LIVE_RANGES = {"sigmatemp": SIGMATEMP, "pitemp": PITEMP, "timescale": TIMESCALE}


# ---- The settings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InteractionConfig:
    """How the performer and the model take turns."""

    mode: str  # one of MODES
    threshold: float  # seconds of performer silence before the model answers (callresponse)
    input_thru: bool = False  # also send the performer's input straight to the outputs
    reseed: float = 55.0  # seconds of a hold before the model playing alone starts afresh; 0: never


@dataclass(frozen=True)
class ModelConfig:
    """Which MDRNN to load and how to sample from it."""

    dimension: int  # values per event: dt plus dimension - 1 controls
    file: str = ""  # "" runs the random dummy model
    size: str = "s"  # one of impsy.model.SIZES
    sigmatemp: float = 0.5  # bench/liveliness.py: livelier solos than 0.01 (issue 15)
    pitemp: float = 1.0
    timescale: float = 1.0  # multiplies the predicted dt before playback
    persistence: float = 0.92  # keep the last event's mixture component this often (bench/liveliness.py)
    one_at_a_time: bool = False  # each event moves one control (a MIDI controller's logs)


@dataclass(frozen=True)
class MappingEntry:
    """One control <-> one kind of MIDI message; channel is 0-based (the file says 1-16)."""

    kind: str  # note_on, note_velocity, control_change or pitch_bend
    channel: int
    control: int | None = None  # the controller number, for control_change only
    low: int = 0  # control_change values span low..high (high < low runs the other way)
    high: int = 127
    velocity: int | None = None  # note_on: a fixed velocity for the notes it sends


MidiMapping = tuple[MappingEntry, ...]


@dataclass(frozen=True)
class MidiConfig:
    """MIDI ports by (partial) name, each with its own mapping."""

    in_device: tuple[str, ...]
    out_device: tuple[str, ...]
    input: dict[str, MidiMapping]  # keyed by the names in in_device
    output: dict[str, MidiMapping]  # keyed by the names in out_device
    feedback_protection: bool = False
    feedback_threshold: float = 0.02  # seconds
    thru_matrix: dict[str, tuple[str, ...]] = field(default_factory=dict)  # input -> outputs


@dataclass(frozen=True)
class OscConfig:
    """The OSC server IMPSY listens on and the client it sends predictions to."""

    server_ip: str
    server_port: int
    client_ip: str
    client_port: int


@dataclass(frozen=True)
class WebSocketConfig:
    """A WebSocket server exchanging MIDI-shaped messages with browsers."""

    server_ip: str
    server_port: int
    input: MidiMapping
    output: MidiMapping


@dataclass(frozen=True)
class SerialConfig:
    """Comma-separated values over a serial port."""

    port: str
    baudrate: int


@dataclass(frozen=True)
class SerialMidiConfig:
    """Raw MIDI bytes over a serial port (a UART wired to DIN sockets)."""

    port: str
    input: MidiMapping
    output: MidiMapping
    baudrate: int = 31250


@dataclass(frozen=True)
class WebUIConfig:
    """The localhost-only UDP ports between `impsy run` and the web UI."""

    monitor_port: int = 4001  # run -> web UI: every input and output vector
    command_port: int = 4002  # web UI -> run: mode, pause, reset, temperatures


@dataclass(frozen=True)
class GpioConfig:
    """Buttons and LEDs on a Raspberry Pi's header, for playing without a laptop."""

    buttons: dict[str, str | int] = field(default_factory=dict)  # GPIO_COMMANDS -> pin
    leds: dict[str, str | int] = field(default_factory=dict)  # GPIO_ACTIVITIES -> pin
    pin_factory: str | None = None  # one of PIN_FACTORIES; None lets gpiozero choose


@dataclass(frozen=True, kw_only=True)
class Config:
    """A whole config file; a channel section that is None is switched off."""

    title: str | None = None
    owner: str | None = None
    description: str | None = None
    verbose: bool = False
    log_predictions: bool = False
    log_input: bool = True  # performer rows in the log; the original always logged them
    interaction: InteractionConfig
    model: ModelConfig
    midi: MidiConfig | None = None
    osc: OscConfig | None = None
    websocket: WebSocketConfig | None = None
    serial: SerialConfig | None = None
    serialmidi: SerialMidiConfig | None = None
    webui: WebUIConfig = field(default_factory=WebUIConfig)
    gpio: GpioConfig | None = None
    source: str = "config.toml"

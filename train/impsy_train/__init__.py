"""impsy-train: logs -> dataset -> trained MDRNN -> built-in-ops .tflite, on the desktop."""

__version__ = "1.0.0.dev0"

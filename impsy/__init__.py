"""IMPSY: the Interactive Musical Prediction SYstem runtime."""

__version__ = "1.0.0.dev0"

"""Exceptions LiveSense raises on purpose. Each message says what was tried and how to fix it.

Catch ``LiveSenseError`` at the CLI boundary to print the message without a traceback.
"""

from __future__ import annotations


class LiveSenseError(Exception):
    """Base of every error LiveSense raises deliberately."""


class DeviceError(LiveSenseError):
    """An audio device is missing, cannot be opened, or was lost mid-stream."""


class AudioFileError(LiveSenseError):
    """An audio file is missing, empty, corrupt or in an unknown format."""


class VideoError(LiveSenseError):
    """A camera or video file cannot be opened or read."""


class ModelFileError(LiveSenseError, ValueError):
    """A model file is missing, corrupt, or was built for something else."""

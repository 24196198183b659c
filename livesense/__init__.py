"""LiveSense: an on-device, real-time voice-and-vision agent.

The package is laid out along the data path:
capture -> codec/vision (tokens) -> model -> codec (codes -> speech) -> playback.
"""

__version__ = "0.1.0"

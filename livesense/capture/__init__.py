"""Capture: microphone (sounddevice), camera (OpenCV), file and synthetic sources.

Everything here yields typed frames stamped by the injected clock: ``AudioFrame``s of
``AudioConfig.frame_size`` samples at the runtime rate, ``VideoFrame``s in RGB. PortAudio
and OpenCV are imported lazily, so this package imports on a machine without them.
"""

from livesense.capture.camera import CameraSource
from livesense.capture.devices import (
    AudioDevice,
    explain_no_devices,
    list_audio_devices,
    list_cameras,
    refresh_portaudio,
    resolve_device,
)
from livesense.capture.files import SyntheticSource, WavSource
from livesense.capture.mic import MicSource
from livesense.capture.resample import StreamResampler, resample
from livesense.capture.ring import RingBuffer

__all__ = [
    "AudioDevice", "CameraSource", "MicSource", "RingBuffer", "StreamResampler",
    "SyntheticSource", "WavSource", "explain_no_devices", "list_audio_devices",
    "list_cameras", "refresh_portaudio", "resample", "resolve_device",
]

"""Audio devices and cameras: list them, resolve a user's choice, explain when there are none.

sounddevice (PortAudio) is imported lazily, so importing livesense.capture works on a
machine without libportaudio2. PortAudio enumerates devices once, when it is initialised
(at ``import sounddevice``); a sound server started later is invisible until
``refresh_portaudio()``.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

from livesense.errors import DeviceError

log = logging.getLogger(__name__)

KINDS = ("input", "output")


@dataclass(frozen=True)
class AudioDevice:
    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float

    def channels(self, kind: str) -> int:
        return self.max_input_channels if kind == "input" else self.max_output_channels

    def __str__(self) -> str:
        return (f"{self.index} {self.name!r} ({self.hostapi}, {self.max_input_channels} in, "
                f"{self.max_output_channels} out, {self.default_samplerate:g} Hz)")


def import_sounddevice():
    """``import sounddevice`` or a DeviceError that names the missing system library."""
    try:
        import sounddevice as sd
    except OSError as e:  # raised when libportaudio is absent
        raise DeviceError(
            f"PortAudio is not available ({e}). Install it (Debian/Ubuntu: "
            "apt-get install libportaudio2), or use --mic file.wav") from e
    return sd


def refresh_portaudio() -> None:
    """Re-initialise PortAudio so it sees a sound server started after import."""
    sd = import_sounddevice()
    sd._terminate()
    sd._initialize()


def list_audio_devices(kind: str | None = None) -> list[AudioDevice]:
    """Every PortAudio device (or only those with ``kind`` = "input"/"output" channels)."""
    sd = import_sounddevice()
    hostapis = [h["name"] for h in sd.query_hostapis()]
    devices = [AudioDevice(i, d["name"], hostapis[d["hostapi"]], d["max_input_channels"],
                           d["max_output_channels"], d["default_samplerate"])
               for i, d in enumerate(sd.query_devices())]
    return [d for d in devices if kind is None or d.channels(kind) > 0]


def explain_no_devices() -> str:
    """Why there may be no audio devices, and what to do about it."""
    server = os.environ.get("PULSE_SERVER") or os.environ.get("PIPEWIRE_REMOTE")
    lines = [
        "No audio devices found: PortAudio (sounddevice.query_devices()) lists none.",
        "This machine has no sound card and/or no sound server is running"
        + (f" (PULSE_SERVER={server} is set but not answering)." if server else "."),
        "Fix one of:",
        "  * start a sound server: PulseAudio (`pulseaudio --start`, or a user-space one "
        "with virtual null sinks, see tests/pulse.py) or PipeWire (pipewire + "
        "pipewire-pulse); then restart livesense so PortAudio re-enumerates devices;",
        "  * or run without devices: --mic file.wav (and write the reply with --out out.wav).",
    ]
    if not os.path.exists("/dev/snd"):
        lines.insert(2, "There is no /dev/snd (no kernel sound devices).")
    return "\n".join(lines)


def resolve_device(spec: str | int | None, kind: str) -> int | None:
    """Index of the ``kind`` device named by ``spec`` (index, exact or unique partial name);
    None means PortAudio's default. Raises DeviceError naming the devices that exist."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    devices = list_audio_devices(kind)
    if not devices:
        raise DeviceError(explain_no_devices())
    if spec is None:
        return None
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        return _by_index(int(spec), kind, devices)
    return _by_name(str(spec), kind, devices)


def _by_index(index: int, kind: str, devices: list[AudioDevice]) -> int:
    if any(d.index == index for d in devices):
        return index
    raise DeviceError(f"no {kind} device with index {index}; {_listing(kind, devices)}")


def _by_name(name: str, kind: str, devices: list[AudioDevice]) -> int:
    exact = [d for d in devices if d.name == name]
    if exact:
        return exact[0].index
    partial = [d for d in devices if name.lower() in d.name.lower()]
    if len(partial) == 1:
        return partial[0].index
    if len(partial) > 1:
        raise DeviceError(f"{kind} device name {name!r} is ambiguous; "
                          f"matches: {', '.join(repr(d.name) for d in partial)}")
    raise DeviceError(f"no {kind} device matching {name!r}; {_listing(kind, devices)}")


def _listing(kind: str, devices: list[AudioDevice]) -> str:
    return f"{kind} devices: " + "; ".join(str(d) for d in devices)


def close_stream(stream, what: str, timeout: float = 2.0) -> bool:
    """Abort and close a PortAudio stream without ever hanging the caller.

    When a PulseAudio server dies mid-stream, libpulse can deadlock (its mainloop thread
    waits in ``pa_memimport_free`` holding the lock PortAudio's thread needs; seen with
    gdb here), and ``Pa_AbortStream`` then joins that thread forever. So the close runs on
    a daemon thread; after ``timeout`` the stream is abandoned with an error logged.
    Returns True if it closed.
    """
    done = threading.Event()

    def run() -> None:
        for action in (stream.abort, stream.close):
            try:
                action()
            except Exception as e:  # the device may already be gone
                log.debug("%s: %s failed: %s", what, action.__name__, e)
        done.set()

    threading.Thread(target=run, name=f"close-{what}", daemon=True).start()
    if done.wait(timeout):
        return True
    log.error("%s: PortAudio did not release the stream within %.1f s (sound server gone?); "
              "abandoning it", what, timeout)
    return False


def list_cameras(max_index: int = 4) -> list[int]:
    """OpenCV camera indices 0..max_index-1 that open and deliver a frame."""
    return [i for i in range(max_index) if _camera_opens(i)]


def _camera_opens(index: int) -> bool:
    from livesense.capture.camera import open_capture

    cap = open_capture(index)
    try:
        return bool(cap.isOpened() and cap.read()[0])
    finally:
        cap.release()

"""Playback: jitter buffer -> speaker (PortAudio) or WAV file; flushed by Interrupt."""

from livesense.playback.jitter import JitterBuffer, ReplyTiming
from livesense.playback.speaker import SpeakerSink
from livesense.playback.wavsink import WavSink

__all__ = ["JitterBuffer", "ReplyTiming", "SpeakerSink", "WavSink"]

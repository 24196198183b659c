"""Frozen configuration, one dataclass per concern. Each field says why it exists.

Times are given in seconds here and converted to frames/samples in one place
(the properties below), so no stage does its own rounding.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AudioConfig:
    sample_rate: int = 16000  # runtime rate: every source is resampled to it, the codec runs at it
    frame_ms: int = 20  # capture/VAD frame; webrtcvad accepts 10, 20 or 30 ms
    input_device: str | int | None = None  # sounddevice name/index, or None for the default
    output_device: str | int | None = None
    output_latency_s: float = 0.1  # PortAudio output latency; 'low' underruns on a shared core
    output_block_ms: int = 20  # fixed output block; blocksize 0 gives irregular callbacks
    ring_seconds: float = 4.0  # capture ring buffer; the callback only copies into it

    @property
    def frame_size(self) -> int:
        return self.sample_rate * self.frame_ms // 1000

    @property
    def output_block(self) -> int:
        return self.sample_rate * self.output_block_ms // 1000


@dataclass(frozen=True)
class VisionConfig:
    camera: str | int | None = None  # OpenCV index or a video file path; None = no camera
    fps: float = 5.0  # frames per second taken from the camera (the rest are dropped)
    width: int = 160  # frames are resized to this before tokenizing
    height: int = 120


@dataclass(frozen=True)
class TurnConfig:
    vad_aggressiveness: int = 2  # webrtcvad mode 0..3; higher rejects more noise
    energy_margin_db: float | None = 8.0  # speech must stand this far above the noise floor; ends turns
    #                                ~100 ms sooner than webrtcvad's own hangover (None: off)
    start_s: float = 0.06  # speech needed before a turn starts (rejects clicks)
    stop_s: float = 0.36  # silence after which a turn always ends (the longest end-of-turn wait)
    min_stop_s: float = 0.1  # with an end-of-turn model: the shortest wait (0.06 tried: see models/endpoint)
    endpoint_model: str | None = "seq"  # end-of-turn model: "seq" (the default: the sequence model,
    #   runtime/endpoint_seq.py), "shipped" (prosodic, models/endpoint), a .json/.npz path, or None: the fixed
    #   stop_s wait. The sequence model at its threshold 0.95 waits 115 ms on average instead of 293 ms on
    #   held-out voices and sentences, for 2.7 points more turns cut at a pause. Such a cut is taken back when
    #   the user goes on within resume_s: the turn is merged (TurnStart.resumes) and its reply dropped, counted
    #   as a resume, not a barge-in — see models/endpoint/README.md
    resume_s: float = 0.5  # speech starting this soon after a turn the end-of-turn model ended continues that
    #   turn (a resume): stop_s, the pause the fixed rule would have kept, plus 0.14 s of slack. With 0.36 s,
    #   test_duplex_devices once took "can you hear me..." after "Hello there," (said while the cut reply
    #   was heard) as a new turn and a barge-in
    min_turn_s: float = 0.2  # shorter speech bursts are dropped as noise
    speculate_s: float | None = 0.08  # silence after which the agent starts its reply unheard (TurnPending),
    #   so its compute overlaps the rest of the end-of-turn wait; dropped if the user goes on. None: off.
    #   0.16 -> 0.08 took the cascade's p50 from 584 to 473-488 ms (bench_latency, same session) for ~1-2 more
    #   dropped replies per turn on speech with pauses (their ASR runs on the otherwise idle agent thread)
    barge_in: bool = True  # user speech cuts the reply; off (e.g. batch file runs): turns queue

    def frames(self, seconds: float, frame_ms: int) -> int:
        """Seconds -> whole frames (at least one), the single place this rounding happens."""
        return max(1, round(seconds * 1000 / frame_ms))


@dataclass(frozen=True)
class PlaybackConfig:
    prebuffer_s: float = 0.04  # jitter buffer fill before playback starts
    max_buffer_s: float = 30.0  # hard cap; beyond it frames are refused and counted (overrun)
    duck_fade_s: float = 0.005  # fade when a tentative barge-in holds the reply (and on resume): no click
    cut_device: bool = True  # a duck or a barge-in also drops the output device's own queue (abort and
    #   restart the stream): silent ~one output latency (>= 0.1 s) sooner, at the price of an abrupt cut


@dataclass(frozen=True)
class RuntimeConfig:
    audio_queue: int = 512  # bounded queue between stages for audio (never dropped silently)
    video_queue: int = 2  # video keeps only the newest frames (drop-oldest)
    realtime: bool = True  # pace file sources in real time (False: as fast as possible)
    trace: bool = True  # record latency spans per frame


@dataclass(frozen=True)
class DuplexConfig:
    """Full duplex: echo cancellation on the speaker path and what counts as a barge-in
    while the agent is audible (runtime/bargein.py). When the agent is silent, normal
    turn-taking (TurnConfig) applies unchanged."""

    aec: bool = True  # cancel the agent's own voice from the mic when output is a speaker
    min_speech_s: float = 0.2  # speech needed before a barge-in (TurnConfig.start_s is 0.06)
    window_s: float = 0.3  # ... counted within this window (unvoiced gaps inside words)
    min_voiced_s: float = 0.1  # of which this much must be voiced (pitched): not a cough/click/fan
    voicing: float = 0.6  # periodicity (1 - YIN's min CMNDF, 70-400 Hz) of a voiced frame
    voicing_track: float = 0.35  # ... or this much, when its pitch continues the previous frame's within
    track_semitones: float = 1.5  # this many semitones and its level holds (not a knock's decay): the short
    #   vowel of a rough voice's "Stop." (scripts/bench_short_barge_in.py: one-word interruptions confirmed
    #   0.83-0.84 -> 0.89 by training voices; bench_duplex false barge-ins 0 in tuning, held-out and dev rooms;
    #   at 0.45 without the level rule a held-out room's knock barged in, which is why the rule is there)
    min_bright_hz: float = 200.0  # a voiced frame's energy sits above this on average (a thud's below)
    near_margin_db: float = 6.0  # frame level above the canceller's echo bound: not our echo
    min_level_dbfs: float = -50.0  # quieter frames never count (residual echo, hiss)
    echo_tail_s: float = 0.5  # the strict rules hold this long after the agent's audio ends
    #                           (room reverberation, output-latency misestimate)
    impulse_share: float = 0.5  # a frame with more of its energy in one 2 ms slice is a click, not speech
    duck_s: float = 0.04  # consecutive counted frames after an onset that duck (hold) the output at once
    duck_voicing: float = 0.75  # ... voiced at this periodicity at least (``voicing`` or stricter). Chosen on
    #   the dev rooms (0.6 / 0.7 / 0.75 / 0.8 / 0.85: false ducks 398 / 191 / 127 / 62 / 12 per hour, onset ->
    #   silence 80 / 93 / 93 / 115 / 107 ms); tuning + held-out sets: false ducks 703 -> 206 per hour, 66 -> 79 ms
    #   (all before bench_duplex modelled the 20 ms a cut device still plays: with it, 99 ms)
    duck_voiced_s: float = 0.02  # ... of which this much voiced (dev rooms, 2026-12-05: 0.04 halved false ducks,
    #   398 -> 179 per hour of agent speech, but onset -> silence went 80 -> 113 ms median, so 0.02 stays)
    duck_hold_s: float = 1.0  # from the onset: an unconfirmed duck is released (playback resumes) by then
    duck_release_s: float = 0.45  # ... or sooner, after this long without a counted frame (a cough ended;
    #                               a comma pause, 0.2-0.4 s, is shorter: at 0.3 s one released a real barge-in)
    clear_voiced_s: float = 0.04  # voiced speech heard clear of echo (reference quiet) before a barge-in
    clear_after_s: float = 0.1  # the reference must have been quiet this long (the room's tail) to be clear
    clear_after_unadapted_s: float = 0.3  # ... before the canceller has converged (delay unknown: bulk + tail;
    #   0.2 s let one unconverged room tail confirm once a duck cut the device at once, cut_device)
    ref_quiet_dbfs: float = -60.0  # canceller reference below this: the agent is not playing
    tail_decay_db: float = 1.5  # a voiced frame this far below both frames before it is a decaying tail
    #                             (room reverberation of the agent's voice), never "clear of echo"
    faint_ref_db: float = 25.0  # a reference this far below the frame cannot echo loud enough to matter
    #                             (even through a lossless path): it counts as quiet (a fade's residue)
    tail_margin_db: float = 40.0  # the decaying-tail rule only judges frames within this of the echo bound
    #                               (a voice 80 dB above any possible echo may fade within its syllable)
    no_echo_db: float = -30.0  # measured echo path below this (the mic does not hear the speaker:
    #                            headphones): voiced frames are clear of echo without waiting for quiet

    def frames(self, seconds: float, frame_ms: int) -> int:
        """Seconds -> whole frames (at least one), the single place this rounding happens."""
        return max(1, round(seconds * 1000 / frame_ms))


@dataclass(frozen=True)
class Config:
    audio: AudioConfig = field(default_factory=AudioConfig)
    vision: VisionConfig = field(default_factory=VisionConfig)
    turn: TurnConfig = field(default_factory=TurnConfig)
    playback: PlaybackConfig = field(default_factory=PlaybackConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    duplex: DuplexConfig = field(default_factory=DuplexConfig)

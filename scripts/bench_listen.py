"""The native agent's compute at the end of a turn, listening or not (NativeConfig.listen).

Listening: each view of the turn is prefilled frame by frame while the user speaks, so at
the turn's end only the ``agent`` marker is left. This feeds spoken questions (held-out
voices, ``livesense.corpus.conversation``) frame by frame to the shipped native agent, once
listening and once not, and times, one thread:

  end_to_audio_ms   the turn's end -> its first reply audio frame (the compute an early
                    end-of-turn decision puts on the critical path)
  listen_ms         the listening work per 40 ms codec frame while the user speaks (each
                    turn's first feed, which also carries the prompt's start, left out)
  end_tokens        prompt tokens evaluated at the turn's end

    python scripts/bench_listen.py [--turns 8]

Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

SR = 16000
BLOCK = 320  # 20 ms capture blocks, as the runtime delivers them


def ask(agent, speech: np.ndarray, listen: bool, spent: list) -> tuple[float, int]:
    """One turn heard block by block; returns (turn end -> first audio frame s, tokens at the end)."""
    from livesense.frames import AudioFrame, TurnEnd, TurnStart

    agent.reset()
    lead = int(0.2 * SR)
    x = np.concatenate([np.zeros(lead, np.float32), speech, np.zeros(int(0.3 * SR), np.float32)])
    t_on, t_end = lead / SR, (lead + len(speech)) / SR
    first = True
    for i in range(0, len(x) - BLOCK + 1, BLOCK):
        if listen and i == lead:
            agent.prepare(TurnStart(t_capture=t_on))
        fed, t = agent._cache.fed, time.perf_counter()
        agent.observe(AudioFrame(x[i:i + BLOCK], SR, i / SR))
        if agent._cache.fed > fed:  # a codec frame completed and was fed to the views
            if not first:  # (the turn's first feed also carries the prompt's start and the pre-roll)
                spent.append(time.perf_counter() - t)
            first = False
    fed = agent._cache.fed
    t = time.perf_counter()
    reply = agent.respond(TurnEnd(t_capture=t_end, t_decided=t_end, speech_s=t_end - t_on), lambda name: None)
    next(f for f in reply if isinstance(f, AudioFrame))
    dt = time.perf_counter() - t
    reply.close()
    return dt, agent._cache.fed - fed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--turns", type=int, default=8, help="spoken questions (the latency bench's, cycled)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    from livesense.agents.native import NativeAgent, NativeConfig
    from livesense.corpus.conversation import conversation

    script = conversation(args.turns, gap_s=0.0, seed=args.seed)
    clips = [script.audio[round(t["start_s"] * SR):round(t["end_s"] * SR)] for t in script.turns]
    out = {}
    for listen in (True, False):
        agent = NativeAgent(NativeConfig(listen=listen, hear_budget_s=None))  # every view both ways
        agent.warm()
        spent, ends, tokens = [], [], []
        for x in clips:
            dt, n = ask(agent, x, listen, spent)
            ends.append(1000 * dt)
            tokens.append(n)
        key = "listen" if listen else "no_listen"
        out[f"{key}_end_to_audio_ms"] = [round(float(np.percentile(ends, q)), 1) for q in (50, 95)]
        out[f"{key}_end_tokens"] = int(np.median(tokens))
        if spent:
            ms = 1000 * np.array(spent)
            out["listen_ms_per_frame"] = {"mean": round(float(ms.mean()), 2), "p95": round(float(np.percentile(ms, 95)), 2),
                                          "max": round(float(ms.max()), 2)}
        print(f"{key}: turn end -> first audio p50 {out[f'{key}_end_to_audio_ms'][0]} ms", file=sys.stderr)
    out["turns"] = len(clips)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

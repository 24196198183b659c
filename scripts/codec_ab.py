#!/usr/bin/env python
"""Two or more LSC-1 codebook files on the same cached clips, in one run (an A/B).

    python scripts/codec_ab.py models/lsc1/lsc1_codebooks.npz other.npz --clips dev

``--clips`` is a corpus cache (``livesense.corpus.dataset.build_corpus`` writes it,
``load_corpus`` reads it), or ``dev``: 12 held-out sentences the bench does not use × the 6
``DEV_VOICES`` (neither training nor bench voices), rendered once into ``data/lsc1_dev_12.npz``. Prints STOI and PESQ-WB per file and
per voice; the last line is JSON. PESQ runs on every ``--pesq-every``-th clip (it is slow).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SR = 16000
ROOT = Path(__file__).resolve().parents[1]


def dev_clips() -> str:
    """Render (once) the dev set: the codec's choices are made here, never on the bench."""
    from livesense.corpus import sentences
    from livesense.corpus.dataset import build_corpus
    from livesense.corpus.voices import DEV_VOICES

    path = ROOT / "data" / "lsc1_dev_12.npz"
    texts = sentences("heldout", seed=0)[8:20]  # the bench reads the first 8
    build_corpus(path, texts, DEV_VOICES, seed=0, n_voices_per_text=len(DEV_VOICES))
    return str(path)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", help="codebook files (.npz with a .sha256 beside it)")
    p.add_argument("--clips", required=True, help="corpus cache .npz (audio, offsets, labels)")
    p.add_argument("--pesq-every", type=int, default=2)
    a = p.parse_args()
    from pesq import pesq
    from pystoi import stoi
    from tqdm import tqdm

    from livesense.codec import LSC1Codec
    from livesense.corpus.dataset import load_corpus

    clips, labels = load_corpus(dev_clips() if a.clips == "dev" else a.clips)
    out = {}
    for f in a.files:
        codec = LSC1Codec.load(f)
        st, pq, per = [], [], {}
        for i, (x, lab) in enumerate(tqdm(list(zip(clips, labels)), desc=Path(f).name, unit="clip")):
            y = codec.decode(codec.encode(x), len(x))
            st.append(stoi(x, y, SR))
            per.setdefault(str(lab).split("|")[0], []).append(st[-1])
            if i % a.pesq_every == 0:
                pq.append(pesq(SR, x, y, "wb"))
        out[f] = {"stoi": round(float(np.mean(st)), 4), "pesq_wb": round(float(np.mean(pq)), 3),
                  "per_voice_stoi": {k: round(float(np.mean(v)), 4) for k, v in sorted(per.items())}}
        print(f"{f}: STOI {out[f]['stoi']:.4f} PESQ-WB {out[f]['pesq_wb']:.3f}  " +
              ", ".join(f"{k} {v:.3f}" for k, v in out[f]["per_voice_stoi"].items()))
    print(json.dumps({"clips": len(clips), "source": a.clips, "files": out}))


if __name__ == "__main__":
    main()

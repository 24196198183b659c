"""Train the vision tokenizer's codebooks and write models/vision/vq_v1.npz (+ .sha256).

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 nice -n 5 python scripts/train_vision.py

Then write the probe figures into models/vision/README.md (scripts/bench_vision.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from livesense.vision.tokenizer import DEFAULT_PATH, save_codebook
from livesense.vision.train import train_codebook


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=4000, help="generated training scenes")
    ap.add_argument("--seed", type=int, default=0, help="scene and k-means seed")
    ap.add_argument("--iters", type=int, default=30, help="k-means iterations per codebook")
    ap.add_argument("--out", type=Path, default=DEFAULT_PATH, help="codebook .npz to write")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    t0 = time.perf_counter()
    cb = train_codebook(args.scenes, args.seed, iters=args.iters)
    digest = save_codebook(cb, args.out)
    print(json.dumps({"out": str(args.out), "sha256": digest, "seconds": round(time.perf_counter() - t0, 1),
                      "meta": json.loads(cb.meta)}))


if __name__ == "__main__":
    main()

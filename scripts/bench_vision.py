"""Vision tokenizer benchmark: ms/frame at one thread, probe accuracies, a picture.

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 nice -n 5 python scripts/bench_vision.py --png out/vision_tokens.png

Prints figures; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from livesense.vision import probe, scenes
from livesense.vision.tokenizer import VisionTokenizer


def speed(tok: VisionTokenizer, n: int = 200) -> dict:
    rng = np.random.default_rng(7)
    images = [scenes.render(scenes.random_scene(rng)) for _ in range(20)]
    t0 = time.perf_counter()
    tok.warmup()
    warm = time.perf_counter() - t0
    times = []
    for i in range(n):
        t = time.perf_counter()
        tok.encode(images[i % len(images)])
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1e3
    return {"warmup_s": round(warm, 3), "ms_per_frame_p50": round(float(np.median(ms)), 3),
            "ms_per_frame_p90": round(float(np.percentile(ms, 90)), 3)}


def _id_colours(ids: np.ndarray, tok: VisionTokenizer) -> np.ndarray:
    """Colour a token grid: hue from the shape code, lightness from the colour code, a dot for blobs."""
    import cv2

    c = tok.contract
    col, blob, shp = tok.split(ids)
    hsv = np.stack([(shp * 180 // c.n_shape), np.full_like(shp, 200), 80 + col * 170 // c.n_colour], -1)
    grid = cv2.cvtColor(hsv.reshape(c.grid_h, c.grid_w, 3).astype(np.uint8), cv2.COLOR_HSV2RGB)
    return grid, blob.reshape(c.grid_h, c.grid_w)


def picture(tok: VisionTokenizer, path: Path, n: int = 6) -> None:
    import cv2

    rng = np.random.default_rng(21)
    rows = []
    for i in range(n):
        img = scenes.render(scenes.random_scene(rng, kind="single" if i % 2 else "mixed"))
        grid, blob = _id_colours(tok.encode(img), tok)
        big = cv2.resize(grid, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_NEAREST)
        gh, gw = blob.shape
        for (y, x) in zip(*np.nonzero(blob)):
            centre = (int((x + 0.5) * img.shape[1] / gw), int((y + 0.5) * img.shape[0] / gh))
            cv2.circle(big, centre, 4, (255, 255, 255), -1)
        rows.append(np.concatenate([img, np.full((img.shape[0], 4, 3), 255, np.uint8), big], axis=1))
    sheet = np.concatenate(rows, axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.resize(sheet, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)[..., ::-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=2500, help="probe training scenes")
    ap.add_argument("--test", type=int, default=500, help="fresh / held-out test scenes each")
    ap.add_argument("--png", type=Path, default=None, help="write scenes next to their token grids here")
    args = ap.parse_args()
    tok = VisionTokenizer.load()
    out = {"contract": {"grid": [tok.contract.grid_w, tok.contract.grid_h], "vocab": tok.contract.vocab_size,
                        "parts": probe.part_sizes(tok.contract)}}
    out["speed"] = speed(tok)
    print("speed", out["speed"])
    t0 = time.perf_counter()
    sets = probe.encode_sets(tok, args.train, args.test, seed=100)
    for reads in ("parts", "all"):
        out[f"probe_{reads}"] = probe.evaluate(tok, sets=sets, reads=reads)
        print(f"probe reading {reads}:", out[f"probe_{reads}"])
    out["probe_mlp_all"] = probe.evaluate(tok, sets=sets, reads="all", hidden=64)
    print("probe MLP reading all:", out["probe_mlp_all"])
    out["probe_s"] = round(time.perf_counter() - t0, 1)
    if args.png:
        picture(tok, args.png)
        out["png"] = str(args.png)
    print(json.dumps(out))


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Train LiveSense-Tiny, the shipped default native model, on this machine's CPU.

Recipe (reproducible from --seed): the curriculum of livesense/train/curriculum.py —
user questions spoken by the 11 training voices (+2 augmented copies each), procedurally
rendered scenes with the held-out (colour, shape) pairs excluded, replies composed from
Piper-joe units encoded by LSC-1 — into a d=256, 4-layer decoder (livesense/train/trainer.py).
Resumable: rerun the same command and it continues from --ckpt. Then it exports
the F32 GGUF, quantizes it to Q8_0 and writes models/tiny/ (GGUF + .sha256 + sidecar JSON).

    OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE nice -n 5 python scripts/train_tiny.py --minutes 55
    python scripts/train_tiny.py --export-only          # ship the checkpoint as it is
    python scripts/train_tiny.py --gpu ...               # the larger config (see livesense/train/ddp.py)
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from dataclasses import asdict, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT / "data" / "tiny"), help="cache folder (gitignored)")
    p.add_argument("--ckpt", default=None, help="checkpoint (default: DATA/ckpt.pt); resumed if present")
    p.add_argument("--out", default=str(ROOT / "models" / "tiny"), help="where the shipped files go")
    p.add_argument("--seed", type=int, default=0, help="curriculum, init and data-order seed")
    p.add_argument("--steps", type=int, default=None, help="total optimizer steps (default: config)")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock cap of this run")
    p.add_argument("--batch", type=int, default=None, help="sequences per step")
    p.add_argument("--scenes", type=int, default=8000, help="training scenes rendered and tokenized")
    p.add_argument("--codebooks", default=None, help="LSC-1 codebooks (default: shipped, else provisional)")
    p.add_argument("--gpu", action="store_true", help="use the larger GPU_CONFIG (needs a GPU in practice)")
    p.add_argument("--export-only", action="store_true", help="skip training, export the checkpoint")
    p.add_argument("--init", default=None, help="start from this checkpoint's weights (fresh optimizer and schedule)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 on shared cores)")
    p.add_argument("--device", default="cpu", help="training device: cpu, or cuda (bf16 autocast)")
    p.add_argument("--workers", type=int, default=0, help="processes that build batches (0: in the training loop)")
    p.add_argument("--voices", type=int, default=None, help="espeak-ng voices asking the questions (new --data only)")
    p.add_argument("--aug", type=int, default=2, help="augmented copies of every question clip (new --data only)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate")
    p.add_argument("--no-export", action="store_true", help="train only (e.g. on a GPU box without gguf)")
    p.add_argument("--build-only", action="store_true", help="build the training and evaluation caches, then stop")
    return p.parse_args()


def codebooks_path(arg: str | None, data: Path) -> Path:
    """--codebooks; else the ones the caches in ``data`` were encoded with; else the
    shipped LSC-1 codebooks."""
    from livesense.codec.codec import DEFAULT_CODEBOOKS

    if arg:
        return Path(arg)
    marker = data / "codebooks.sha256"
    if marker.exists():
        recorded = Path(marker.read_text().split(maxsplit=1)[1].strip())
        if recorded.exists():  # else the folder moved to another machine: build_all checks the sha
            return recorded
    return Path(DEFAULT_CODEBOOKS)


def trained_codebooks(ck: dict, candidates: list[Path]) -> Path:
    """The codebooks whose sha256 the checkpoint recorded (the codes it was trained on)."""
    from livesense.codec.rvq import sha256_of

    want = ck.get("extra", {}).get("codebooks_sha256")
    for c in candidates:
        if Path(c).exists() and (want is None or sha256_of(Path(c)) == want):
            return Path(c)
    raise FileNotFoundError(f"none of {candidates} has the sha256 {want} the checkpoint was trained with")


def export(model, spec, out: Path, extra: dict, cb: Path) -> dict:
    from livesense.model.export.gguf_export import export_gguf, quantize_gguf
    from livesense.codec.rvq import sha256_of

    out.mkdir(parents=True, exist_ok=True)
    f32 = Path(extra["data"]) / "livesense-tiny-f32.gguf"
    export_gguf(model.export_lm(), spec, f32)
    q8 = out / "livesense-tiny-q8_0.gguf"
    quantize_gguf(f32, q8, "q8_0")
    digest = sha256_of(q8)
    (out / (q8.name + ".sha256")).write_text(f"{digest}  {q8.name}\n")
    shutil.copyfile(cb, out / "lsc1_codebooks.npz")  # the codes this model speaks
    (out / "lsc1_codebooks.sha256").write_text(f"{sha256_of(cb)}  lsc1_codebooks.npz\n")
    side = {"file": q8.name, "sha256": digest, "bytes": q8.stat().st_size,
            "codebooks": "lsc1_codebooks.npz", "codebooks_sha256": sha256_of(cb), **extra}
    (out / "livesense-tiny.json").write_text(json.dumps(side, indent=1, sort_keys=True) + "\n")
    return side


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    a = parse_args()
    import torch

    torch.set_num_threads(a.threads)
    from livesense.model.layout import default_layout
    from livesense.train import data as D
    from livesense.train import trainer as T

    data = Path(a.data)
    data.mkdir(parents=True, exist_ok=True)
    ckpt = Path(a.ckpt or data / "ckpt.pt")
    cb = codebooks_path(a.codebooks, data)
    ck = torch.load(ckpt, map_location="cpu", weights_only=False) if a.export_only else None
    if ck is not None:
        cb = trained_codebooks(ck, [cb, data / "lsc1_codebooks.npz"])
    caches = D.build_all(data, a.seed, n_scenes=a.scenes, codebooks=str(cb), n_aug=a.aug,
                         n_espeak=a.voices or D.N_ESPEAK_USER_VOICES, with_eval=a.build_only)
    if a.build_only:
        print(json.dumps({"data": str(data), "user_clips": len(caches.user_train["codes"]),
                          "scenes": len(caches.scenes_train["labels"]), "codebooks_sha256": caches.codebooks_sha256}))
        return
    tc = T.GPU_CONFIG if a.gpu else T.TrainConfig()
    tc = replace(tc, seed=a.seed, **{k: v for k, v in (("steps", a.steps), ("max_minutes", a.minutes),
                                                          ("batch", a.batch), ("lr", a.lr)) if v is not None})
    if ck is not None:  # export what the checkpoint is, whatever the flags say
        tc = T.TrainConfig(**ck["train_config"])
    layout = default_layout()
    model, spec = T.build_model(tc, layout)
    cur = D.Curriculum(layout, spec.scheme, caches.units, caches.user_train, caches.scenes_train, a.seed)
    extra = {"train_config": asdict(tc), "data": str(data),
             "params": sum(p.numel() for p in model.lm.parameters())}
    if ck is not None:
        model.load_state_dict(ck["model"])
        summary = {"steps": ck["step"], "final": ck["history"][-1] if ck["history"] else None}
    else:
        if a.init and not ckpt.exists():
            model.load_state_dict(torch.load(a.init, map_location="cpu", weights_only=False)["model"])
            extra["init"] = a.init
        summary = T.train(model, cur, tc, ckpt, extra={"codebooks_sha256": caches.codebooks_sha256},
                          device=a.device, workers=a.workers)
        if a.no_export:
            print(json.dumps({"summary": summary}))
            return
        ck = torch.load(ckpt, map_location="cpu", weights_only=False)
    extra["trained_steps"] = int(ck["step"])
    extra["last_log"] = ck["history"][-1] if ck["history"] else None
    side = export(model, spec, Path(a.out), extra, cb)
    print(json.dumps({"summary": summary, "file": side["file"], "sha256": side["sha256"], "bytes": side["bytes"]}))


if __name__ == "__main__":
    main()

"""Codes files: token ids plus the frame contract they were made under (``.npz``).

Loading checks the contract, so codes made by another codec layout are refused instead of
being decoded into noise. Codes written with ``codebooks_sha256`` (``LSC1Codec.sha256``) are
also refused by a reader that names other codebooks: ids of one codebook file mean nothing
in another (the plain and the learned-transform files share a contract).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from livesense.codec.contract import CONTRACT, FrameContract


def save_codes(path: str | Path, codes: np.ndarray, contract: FrameContract = CONTRACT,
               codebooks_sha256: str | None = None, **meta) -> None:
    """Write ``codes`` (n_frames, n_codebooks) with the contract, the sha256 of the codebooks
    that made them when given, and any extra ``meta``."""
    from livesense.codec.codec import check_codes

    codes = check_codes(codes, contract)
    if codebooks_sha256:
        meta["codebooks_sha256"] = codebooks_sha256
    with open(path, "wb") as f:
        np.savez(f, codes=codes, contract=np.array(json.dumps({**contract.as_dict(), **meta})))


def load_codes(path: str | Path, contract: FrameContract = CONTRACT,
               codebooks_sha256: str | None = None) -> tuple[np.ndarray, dict]:
    """Read a codes file; raise if its contract differs from ``contract``, or if both the
    file and the caller name codebooks and they differ."""
    from livesense.codec.codec import check_codes

    z = np.load(path, allow_pickle=False)
    meta = json.loads(str(z["contract"]))
    contract.check(meta, what=str(path))
    made = meta.get("codebooks_sha256")
    if made and codebooks_sha256 and made != codebooks_sha256:
        raise ValueError(f"{path}: codes made with codebooks {made[:12]}…, not with {codebooks_sha256[:12]}… "
                         "(ids of one codebook file do not decode with another)")
    return check_codes(z["codes"], contract), meta

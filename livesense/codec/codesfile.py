"""Codes files: token ids plus the frame contract they were made under (``.npz``).

Loading checks the contract, so codes made by another codec layout are refused instead of
being decoded into noise.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from livesense.codec.contract import CONTRACT, FrameContract


def save_codes(path: str | Path, codes: np.ndarray, contract: FrameContract = CONTRACT,
               **meta) -> None:
    """Write ``codes`` (n_frames, n_codebooks) with the contract (and any extra ``meta``)."""
    from livesense.codec.codec import check_codes

    codes = check_codes(codes, contract)
    with open(path, "wb") as f:
        np.savez(f, codes=codes, contract=np.array(json.dumps({**contract.as_dict(), **meta})))


def load_codes(path: str | Path, contract: FrameContract = CONTRACT) -> tuple[np.ndarray, dict]:
    """Read a codes file; raise if its contract differs from ``contract``."""
    from livesense.codec.codec import check_codes

    z = np.load(path, allow_pickle=False)
    meta = json.loads(str(z["contract"]))
    contract.check(meta, what=str(path))
    return check_codes(z["codes"], contract), meta

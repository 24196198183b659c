"""Prompt prefix reuse: evaluate only the part of a prompt a backend sequence does not hold.

A ``PrefixCache`` remembers, for each sequence of a backend (``ChunkedBackend.use``), the
tokens (ids and positions) it has been fed. ``sync(slot, ids, pos)`` compares a new prompt
with them, drops what differs (``truncate``) and feeds only the rest. The native agent uses
it to *listen*: while the user speaks, each view of the turn is prefilled frame by frame, so
when the turn ends only the last frames and the ``agent`` marker are left to evaluate; and
the next turn's prompt reuses whatever it shares with the last one (start, image, ``user``).

Slots are logical (one per view of a turn); a backend with fewer sequences than slots maps
them onto its sequences modulo ``n_seq``, so views that share a sequence evict each other
and pay a full prefill each time, which is the behaviour without this cache.
"""

from __future__ import annotations

import numpy as np


class PrefixCache:
    def __init__(self, backend) -> None:
        self.backend = backend
        n = getattr(backend, "n_seq", 1)
        self._ids = [np.zeros(0, np.int64) for _ in range(n)]  # what each sequence holds, in order
        self._pos = [np.zeros((4, 0), np.int32) for _ in range(n)]
        self.fed = 0  # tokens evaluated through sync (a measure of the work the cache left to do)

    @property
    def spec(self):
        return self.backend.spec

    def reset(self) -> None:
        self.backend.reset()
        for k in range(len(self._ids)):
            self._forget(k, 0)

    def slot(self, slot: int) -> "Sequence":
        """A handle that feeds one slot's sequence (``eval`` like a backend)."""
        return Sequence(self, slot % len(self._ids))

    def sync(self, slot: int, ids, pos, logits: bool = True) -> np.ndarray | None:
        """Make slot ``slot``'s sequence hold exactly ``ids`` at ``pos`` (4,T), feeding only
        what it lacks. Returns the last token's logits (re-feeding that token if the whole
        prompt was held already), or None with ``logits=False``."""
        k = slot % len(self._ids)
        ids = np.asarray(ids, np.int64).reshape(-1)
        pos = np.asarray(pos, np.int32).reshape(4, -1)
        n = self._common(k, ids, pos)
        if logits and n == len(ids):
            n -= 1  # the prompt's last logits are not kept: feed its last token again
        self.backend.use(k)
        if n < len(self._ids[k]):
            self.backend.truncate(int(self._pos[k][0, n]))
            self._forget(k, n)
        if n == len(ids):
            return None
        out = self.backend.eval(ids[n:], pos[:, n:], logits=logits)
        self._append(k, ids[n:], pos[:, n:])
        self.fed += len(ids) - n
        return out

    # --- bookkeeping ------------------------------------------------------------------
    def _common(self, k: int, ids: np.ndarray, pos: np.ndarray) -> int:
        held, held_pos = self._ids[k], self._pos[k]
        m = min(len(held), len(ids))
        same = (held[:m] == ids[:m]) & np.all(held_pos[:, :m] == pos[:, :m], axis=0)
        bad = np.flatnonzero(~same)
        return int(bad[0]) if bad.size else m

    def _forget(self, k: int, n: int) -> None:
        self._ids[k], self._pos[k] = self._ids[k][:n], self._pos[k][:, :n]

    def _append(self, k: int, ids: np.ndarray, pos: np.ndarray) -> None:
        self._ids[k] = np.concatenate([self._ids[k], ids])
        self._pos[k] = np.concatenate([self._pos[k], pos], axis=1)


class Sequence:
    """One slot of a :class:`PrefixCache`, fed token by token (generation) like a backend."""

    def __init__(self, cache: PrefixCache, k: int) -> None:
        self.cache, self.k = cache, k

    @property
    def spec(self):
        return self.cache.backend.spec

    def eval(self, ids, pos, all_logits: bool = False) -> np.ndarray:
        c, k = self.cache, self.k
        ids = np.asarray(ids, np.int64).reshape(-1)
        pos = np.asarray(pos, np.int32).reshape(4, -1)
        c.backend.use(k)
        out = c.backend.eval(ids, pos, all_logits)
        c._append(k, ids, pos)
        return out

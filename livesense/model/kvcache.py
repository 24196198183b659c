"""Preallocated ring KV cache: a session of any length in bounded memory.

The cache has ``capacity`` slots per layer. A chunk of ``T`` tokens is written to the
next ``T`` slots in ring order, overwriting the oldest entries once the ring is full; the
chunk attends to the entries that survive plus itself (causally). Rotary positions are
absolute and applied before keys are stored, so an evicted neighbour never forces a
re-rotation, and slot order is irrelevant to attention (softmax over a set). No attention
sink is kept: the stream has no privileged first token (a session is a rolling window of
sound and sight), and llama.cpp's cache, evicted with ``llama_memory_seq_rm``, keeps
exactly the same set, so all backends agree token for token after wrap-around.

``RingSlots`` is the bookkeeping only (numpy, shared by the torch and onnxruntime
backends); ``RingKVCache`` adds torch storage.
"""

from __future__ import annotations

import numpy as np


class RingSlots:
    def __init__(self, capacity: int) -> None:
        self.capacity = int(capacity)
        self.valid = np.zeros(self.capacity, dtype=bool)
        self.reset()

    def reset(self) -> None:
        self.ptr = 0
        self.count = 0  # tokens ever written (session length)
        self.valid[:] = False

    def plan(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Slots the next ``n`` tokens go to, and the (capacity,) mask of past entries
        they may attend to (valid and not about to be overwritten)."""
        if n > self.capacity:
            raise ValueError(f"chunk of {n} tokens exceeds the KV ring of {self.capacity}; feed smaller chunks")
        slots = (self.ptr + np.arange(n)) % self.capacity
        past = self.valid.copy()
        past[slots] = False
        return slots, past

    def commit(self, slots: np.ndarray) -> None:
        self.valid[slots] = True
        self.ptr = int((self.ptr + len(slots)) % self.capacity)
        self.count += len(slots)

    def rewind(self, n: int) -> None:
        """Forget the last ``n`` tokens written (their slots become free again). Entries
        those tokens overwrote when the ring wrapped stay lost, as after any eviction."""
        n = min(int(n), self.count, self.capacity)
        slots = (self.ptr - 1 - np.arange(n)) % self.capacity
        self.valid[slots] = False
        self.ptr = int((self.ptr - n) % self.capacity)
        self.count -= n

    @property
    def n_stored(self) -> int:
        return int(self.valid.sum())


class RingKVCache:
    """Torch storage: ``k``/``v`` of shape (n_layer, 1, n_kv_head, capacity, head_dim)."""

    def __init__(self, n_layer: int, n_kv_head: int, capacity: int, head_dim: int, dtype=None) -> None:
        import torch

        shape = (n_layer, 1, n_kv_head, capacity, head_dim)
        self.k = torch.zeros(shape, dtype=dtype or torch.float32)
        self.v = torch.zeros(shape, dtype=dtype or torch.float32)
        self.slots = RingSlots(capacity)

    def reset(self) -> None:
        self.slots.reset()  # stale k/v stay in memory but are masked out

    def write(self, slots: np.ndarray, k_new, v_new) -> None:
        """k_new/v_new: (n_layer, 1, n_kv_head, T, head_dim) in chunk order."""
        import torch

        idx = torch.from_numpy(slots.astype(np.int64))
        self.k.index_copy_(3, idx, k_new)
        self.v.index_copy_(3, idx, v_new)
        self.slots.commit(slots)

    def nbytes(self) -> int:
        return self.k.element_size() * self.k.nelement() * 2

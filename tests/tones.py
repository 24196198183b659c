"""Test signals shared by the duplex and barge-in tests."""

from __future__ import annotations

import numpy as np


def harmonic(f0: float, seconds: float, dbfs: float = -24.0, sample_rate: int = 16000) -> np.ndarray:
    """A voiced, pitched test tone (7 harmonics) at ``dbfs`` RMS, float32."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 8))
    return (x * 10 ** (dbfs / 20) / np.sqrt(np.mean(x * x))).astype(np.float32)

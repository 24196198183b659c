"""Acoustic echo cancellation for full duplex: the bot must not hear itself.

``EchoCanceller`` (aec.py) = bulk delay (delay.py, GCC-PHAT) + partitioned-block
frequency-domain adaptive filter (mdf.py over kernels.py) + residual echo suppression
(suppressor.py). ``room.py`` simulates rooms for tests and benchmarks.
"""

from livesense.aec.aec import AecConfig, EchoCancelStage, EchoCanceller
from livesense.aec.delay import DelayConfig, DelayEstimator, gcc_phat

__all__ = ["AecConfig", "DelayConfig", "DelayEstimator", "EchoCancelStage", "EchoCanceller",
           "gcc_phat"]

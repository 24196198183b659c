"""Shared fixtures. ``pulse``: one user-space PulseAudio server for the whole session.

Skipped only when the ``pulseaudio`` binary is absent; a server that is installed but
fails to start is a test failure (the fixture raises), never a skip.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest


@pytest.fixture(scope="session")
def pulse():
    if shutil.which("pulseaudio") is None:
        pytest.skip("pulseaudio is not installed (apt-get install pulseaudio "
                    "pulseaudio-utils); audio I/O tests need a user-space sound server")
    try:
        from tests.pulse import PulseServer
    except ImportError:  # tests/ is not a package: pytest put its folder on sys.path
        from pulse import PulseServer

    server = PulseServer()
    try:
        server.start()
    except Exception as e:
        server.stop()
        pytest.fail(f"pulseaudio is installed but failed to start: {e}", pytrace=False)
    server.activate()
    yield server
    server.deactivate()
    server.stop()


@pytest.fixture(scope="session")
def speech() -> np.ndarray:
    """One espeak-ng interruption ("Wait, hold on, ..."), trimmed, at -24 dBFS."""
    from livesense.aec.room import espeak, fit

    x = espeak("Wait, hold on, I have a question about that.", "en-us", 165)
    nz = np.flatnonzero(np.abs(x) > 0.02 * np.abs(x).max())
    x = x[nz[0]:nz[-1]]
    return fit(x, len(x), -24)

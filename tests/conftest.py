"""Shared fixtures. ``pulse``: one user-space PulseAudio server for the whole session.

Skipped only when the ``pulseaudio`` binary is absent; a server that is installed but
fails to start is a test failure (the fixture raises), never a skip.
"""

from __future__ import annotations

import shutil

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

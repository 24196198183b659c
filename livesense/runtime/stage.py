"""The stage protocol: a small object that owns its state.

``step(frame)`` consumes one frame and returns the frames it produces (possibly none);
``reset()`` returns it to its initial state. Stages never block on I/O and never sleep;
the pipeline's worker threads call them.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from livesense.frames import Frame


@runtime_checkable
class Stage(Protocol):
    name: str

    def step(self, frame: Frame) -> list[Frame]:
        ...

    def reset(self) -> None:
        ...

"""Spoken visual questions with the scene each one is about, as one conversation and one
camera clip, so every agent gets the same ears *and* the same eyes through the runtime.

``visual_conversation`` asks the LiveSense-Tiny domain questions (colour, count, shape,
light, identity, person; curriculum phrasings, held-out voices) one after another; each
turn carries its ``skill``, the ``labels`` of its scene and the ``expected`` reply.
``write_clip`` renders the camera side: scene ``k`` is on screen from ``lead_s`` before
question ``k`` starts until ``lead_s`` before the next one, i.e. while it is asked and
answered; the switch happens in the silence after the previous reply has begun.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from livesense.corpus.conversation import Script, conversation
from livesense.vision.scenes import DEFAULT_SIZE, Scene, random_scene

SKILLS = ("colour", "count", "shape", "light", "identity", "person")
CLIP_FPS = 5  # the runtime's camera rate (config.VisionConfig.fps): every frame is used


@dataclass
class VisualQA:
    script: Script  # turns: text, voice, start_s, end_s, skill, labels, expected
    scenes: list[Scene]  # one per turn


def questions_for(n_turns: int) -> list[tuple[str, str]]:
    """(skill, phrasing) per turn: the skills in turn, each phrasing of a skill in turn."""
    from livesense.train.curriculum import QUESTIONS

    out = []
    for i in range(n_turns):
        skill = SKILLS[i % len(SKILLS)]
        phrasings = QUESTIONS[skill]
        out.append((skill, phrasings[(i // len(SKILLS)) % len(phrasings)]))
    return out


def visual_conversation(n_turns: int, gap_s: float = 6.0, seed: int = 0) -> VisualQA:
    """``n_turns`` questions, each with a fresh scene of one colour and shape (pairs seen
    in training; voices held out). Deterministic for a seed."""
    from livesense.train.curriculum import reply_for

    asked = questions_for(n_turns)
    script = conversation(n_turns, gap_s=gap_s, seed=seed, questions=[q for _, q in asked])
    rng = np.random.default_rng([seed, 7])
    scenes = [random_scene(rng, kind="single") for _ in asked]
    for turn, (skill, _), scene in zip(script.turns, asked, scenes):
        labels = scene.labels()
        turn.update(skill=skill, labels=labels, expected=reply_for(skill, labels).text)
    return VisualQA(script, scenes)


def scene_index(times: np.ndarray, starts: list[float], lead_s: float) -> np.ndarray:
    """Which turn's scene is on screen at each time (the first one before its switch)."""
    switch = np.asarray(starts, np.float64) - lead_s
    return np.clip(np.searchsorted(switch, times, side="right") - 1, 0, len(starts) - 1)


def write_clip(path: str, qa: VisualQA, lead_s: float = 0.7, fps: int = CLIP_FPS,
               size: tuple[int, int] = DEFAULT_SIZE) -> int:
    """Render the conversation's camera clip to ``path`` (MP4); returns the frame count."""
    import cv2

    from livesense.vision.scenes import render

    n = int(np.ceil(qa.script.duration * fps))
    which = scene_index(np.arange(n) / fps, [t["start_s"] for t in qa.script.turns], lead_s)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    try:
        for i, k in enumerate(which):
            rgb = render(replace(qa.scenes[k], frame=i), size)
            writer.write(np.ascontiguousarray(rgb[..., ::-1]))
    finally:
        writer.release()
    return n

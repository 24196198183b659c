"""The LiveSense-Tiny domain: what the user may ask, what the agent answers, and the
held-out splits, all reproducible from a seed.

Replies are *composed*: every reply is a list of units (short phrases and slot words such
as a colour, a shape, a number), each spoken once by Piper joe and encoded by LSC-1 on its
own, so the code sequence for "red" is the same in every sentence that says it. The
evaluation asks for sentences never heard whole in training (``heldout_sentence``) and for
(colour, shape) pairs never shown in training (``livesense.vision.scenes.held_out_pairs``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

NUMBERS = ("zero", "one", "two", "three", "four")
PLURAL = {"circle": "circles", "square": "squares", "triangle": "triangles", "star": "stars"}

# intent -> user phrasings (all spoken by every training voice; held-out voices test them)
QUESTIONS: dict[str, tuple[str, ...]] = {
    "greet": ("Hello!", "Hi there.", "Good morning."),
    "identity": ("Who are you?", "What is your name?", "What are you?"),
    "colour": ("What colour is it?", "Which colour do you see?", "What colour are they?"),
    "shape": ("What shape is it?", "Which shape do you see?", "What shape are they?"),
    "see": ("What do you see?", "Describe what you see.", "What is in front of you?"),
    "count": ("How many objects are there?", "How many things do you see?", "Count the objects."),
    "light": ("Is it bright or dark?", "Is the room dark?", "How is the light?"),
    "person": ("Is someone there?", "Do you see a person?", "Is anybody there?"),
    "refuse": ("What is the weather tomorrow?", "Tell me a joke.", "What time is it?",
               "Play some music.", "What is the capital of France?", "Can you book a flight?"),
}
SKILLS = tuple(QUESTIONS)
VISUAL = ("colour", "shape", "see", "count", "light", "person")
PAIR_SKILLS = ("colour", "shape", "see")  # answers that depend on a (colour, shape) pair
FIXED_REPLIES = {
    "greet": ("Hello,", "I am LiveSense."),
    "identity": ("I am LiveSense.", "I can see and talk."),
    "refuse": ("Sorry,", "I only talk about what I see."),
}


@dataclass(frozen=True)
class Reply:
    units: tuple[str, ...]  # spoken units in order; text = " ".join(units)

    @property
    def text(self) -> str:
        return " ".join(self.units)


def reply_for(skill: str, labels: dict) -> Reply:
    """The one correct reply to ``skill`` for a scene with ``labels`` (Scene.labels())."""
    if skill in FIXED_REPLIES:
        return Reply(FIXED_REPLIES[skill])
    n = int(labels["count"])
    many = n > 1
    if skill == "colour":
        return Reply(("They are" if many else "It is", labels["colour"] + "."))
    if skill == "shape":
        s = labels["shape"]
        return Reply(("They are", PLURAL[s] + ".") if many else ("It is", "a " + s + "."))
    if skill == "see":
        s = PLURAL[labels["shape"]] if many else labels["shape"]
        return Reply(("I see", NUMBERS[n], labels["colour"], s + "."))
    if skill == "count":
        return Reply(("I count", NUMBERS[n] + "."))
    if skill == "light":
        return Reply(("It is", labels["brightness"] + "."))
    if skill == "person":
        return Reply(("Yes, I see", "a person.") if labels["person"] else ("No, I see", "nobody."))
    raise ValueError(f"unknown skill {skill!r}")


def all_units() -> list[str]:
    """Every unit any reply can contain (the agent's whole spoken vocabulary)."""
    from livesense.vision.scenes import BRIGHTNESS, COLOURS, SHAPES

    units = {u for r in FIXED_REPLIES.values() for u in r}
    units |= {"They are", "It is", "I see", "I count", "Yes, I see", "No, I see", "a person.", "nobody."}
    units |= {c + "." for c in COLOURS} | set(COLOURS) | {b + "." for b in BRIGHTNESS}
    units |= {"a " + s + "." for s in SHAPES} | {p + "." for p in PLURAL.values()}
    units |= {s + "." for s in SHAPES} | set(NUMBERS[1:]) | {n + "." for n in NUMBERS[1:]}
    return sorted(units)


def spoken_form(unit: str) -> str:
    """What Piper is asked to say for a unit (the text unit itself)."""
    return unit


def _hash01(s: str, seed: int) -> float:
    h = hashlib.sha256(f"{seed}:{s}".encode()).digest()
    return int.from_bytes(h[:8], "little") / 2**64


def heldout_sentence(reply: Reply, seed: int = 0, frac: float = 0.15) -> bool:
    """Sentences reserved for evaluation: every "see" sentence of a held-out (colour, shape)
    pair (they also need held-out scenes), plus a seeded ``frac`` of the other "see"
    sentences (seen scene combinations, sentence never heard whole in training)."""
    from livesense.vision.scenes import held_out_pairs

    u = reply.units
    if u[0] != "I see":
        return False
    shape = u[3].rstrip(".")
    shape = next((s for s, p in PLURAL.items() if p == shape), shape)
    if (u[2], shape) in held_out_pairs():
        return True
    return _hash01(reply.text, seed) < frac


def all_see_sentences() -> list[Reply]:
    from livesense.vision.scenes import COLOURS, SHAPES

    out = []
    for n in range(1, 5):
        for c in COLOURS:
            for s in SHAPES:
                out.append(reply_for("see", {"count": n, "colour": c, "shape": s}))
    return out

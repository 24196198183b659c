"""The few-shot prompt for a *base* language model, and a short rolling dialogue history.

Gemma 3 270M here is a base (not instruction-tuned) model: it continues text. A preamble,
a few example exchanges in a ``User:``/``Assistant:`` format, the recent real exchanges,
the current scene facts and the new user line make it answer in kind; generation stops at
the end of the line. The fixed head (preamble + examples) comes first so llama.cpp can
reuse its KV cache from one turn to the next.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

PREAMBLE = ("LiveSense is a helpful voice assistant that answers in one short sentence. "
            "It can see through a camera; each question comes with a Scene line saying what "
            "the camera shows.")
EXAMPLES = (
    ("The camera shows a dark scene; main colours: black, grey; no person visible.",
     "Hi, can you hear me?", "Yes, I can hear you clearly."),
    ("The camera shows a bright scene; main colours: green, white; a person is visible.",
     "What do you see?", "I see a bright scene with green and white, and a person."),
    ("No camera image.", "Thanks, that is all for now.", "You are welcome, goodbye!"),
    ("The camera shows a bright scene; main colours: red; no person visible.",
     "What is the capital of France?", "The capital of France is Paris."),
)
NO_SCENE = "No camera image."
CUT_OFF = " [interrupted by the user]"


@dataclass
class Exchange:
    turn: int
    user: str
    reply: str
    interrupted: bool = False


class Dialogue:
    """Builds prompts; remembers the last ``keep`` exchanges (the product keeps no more)."""

    def __init__(self, keep: int = 3) -> None:
        self._history: deque[Exchange] = deque(maxlen=max(0, keep))

    @property
    def history(self) -> list[Exchange]:
        return list(self._history)

    def reset(self) -> None:
        self._history.clear()

    def head(self) -> str:
        """The fixed start of every prompt (its KV cache is reused across turns)."""
        lines = [PREAMBLE, ""]
        for scene, user, reply in EXAMPLES:
            lines += [f"Scene: {scene}", f"User: {user}", f"Assistant: {reply}", ""]
        return "\n".join(lines)

    def prompt(self, user: str, scene: str | None) -> str:
        lines = [self.head()]
        for ex in self._history:
            reply = ex.reply.strip() + (CUT_OFF if ex.interrupted else "")
            lines += [f"User: {ex.user}", f"Assistant: {reply}", ""]
        lines += [f"Scene: {scene or NO_SCENE}", f"User: {_one_line(user)}", "Assistant:"]
        return "\n".join(lines)

    def add(self, turn: int, user: str, reply: str) -> None:
        self._history.append(Exchange(turn, _one_line(user), _one_line(reply)))

    def mark_interrupted(self, turn: int) -> bool:
        """Flag the exchange of ``turn`` as cut off; False if it is not in the history."""
        for ex in self._history:
            if ex.turn == turn:
                ex.interrupted = True
                return True
        return False


def _one_line(text: str) -> str:
    return " ".join(text.split())

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

NAME = "LiveSense"  # the native model's name for itself (livesense.train.curriculum)
PREAMBLE = (f"{NAME} is a voice assistant with a camera. Each question comes with a Scene line "
            f"of facts about what the camera shows. {NAME} answers in one short sentence, "
            "using the words of the facts, and only talks about what it sees.")
# (scene facts, user, reply): every visual question is answered by copying one fact
EXAMPLES = (
    ("count two; colour red; shape triangles; the light is dark; nobody is there.",
     "What colour are they?", "They are red."),
    ("count one; colour blue; shape circle; the light is bright; someone is there.",
     "How many objects are there?", "I count one."),
    ("count three; colour green; shape squares; the light is bright; nobody is there.",
     "Is anybody there?", "No, I see nobody."),
    ("count one; colour white; shape star; the light is dark; someone is there.",
     "Is it bright or dark?", "It is dark."),
    ("count two; colour purple; shape circles; the light is bright; someone is there.",
     "Is someone there?", "Yes, I see a person."),
    ("count one; colour orange; shape triangle; the light is bright; nobody is there.",
     "Who are you?", f"I am {NAME}. I can see and talk."),
    ("count three; colour green; shape squares; the light is dark; nobody is there.",
     "What shape are they?", "They are squares."),
    ("count four; colour yellow; shape stars; the light is dark; nobody is there.",
     "Do you see a person?", "No, I see nobody."),
    ("count one; colour green; shape square; the light is bright; nobody is there.",
     "What is the weather tomorrow?", "Sorry, I only talk about what I see."),
    ("count one; colour yellow; shape circle; the light is dark; nobody is there.",
     "What colour is it?", "It is yellow."),
    ("count two; colour red; shape circles; the light is dark; someone is there.",
     "How is the light?", "It is dark."),
    ("count four; colour blue; shape squares; the light is dark; someone is there.",
     "Count the objects.", "I count four."),
    ("count one; colour purple; shape square; the light is bright; nobody is there.",
     "Tell me a joke.", "Sorry, I only talk about what I see."),
    ("count one; colour red; shape star; the light is bright; someone is there.",
     "What shape is it?", "It is a star."),
    ("count three; colour orange; shape circles; the light is bright; nobody is there.",
     "Is the room dark?", "It is bright."),
    ("count two; colour blue; shape triangles; the light is bright; nobody is there.",
     "Do you see someone?", "No, I see nobody."),
    ("count two; colour white; shape triangles; the light is dark; nobody is there.",
     "What do you see?", "I see two white triangles."),
    ("count two; colour yellow; shape circles; the light is dark; someone is there.",
     "What shape are they?", "They are circles."),
    ("count one; colour blue; shape triangle; the light is bright; nobody is there.",
     "Which shape do you see?", "It is a triangle."),
    ("count one; colour purple; shape square; the light is bright; nobody is there.",
     "What is your name?", f"I am {NAME}. I can see and talk."),
    ("count three; colour yellow; shape stars; the light is dark; someone is there.",
     "Can you order a pizza?", "Sorry, I only talk about what I see."),
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

    def prefix(self, scene: str | None) -> str:
        """The prompt up to the user's words: known before they are (see ``prompt``)."""
        lines = [self.head()]
        for ex in self._history:
            reply = ex.reply.strip() + (CUT_OFF if ex.interrupted else "")
            lines += [f"User: {ex.user}", f"Assistant: {reply}", ""]
        lines += [f"Scene: {scene or NO_SCENE}", "User:"]
        return "\n".join(lines)

    def prompt(self, user: str, scene: str | None) -> str:
        return f"{self.prefix(scene)} {_one_line(user)}\nAssistant:"

    def add(self, turn: int, user: str, reply: str) -> None:
        self._history.append(Exchange(turn, _one_line(user), _one_line(reply)))

    def forget(self, turn: int) -> None:
        """Drop the exchange of ``turn`` (a reply started early and dropped unheard)."""
        kept = [ex for ex in self._history if ex.turn != turn]
        self._history.clear()
        self._history.extend(kept)

    def mark_interrupted(self, turn: int) -> bool:
        """Flag the exchange of ``turn`` as cut off; False if it is not in the history."""
        for ex in self._history:
            if ex.turn == turn:
                ex.interrupted = True
                return True
        return False


def _one_line(text: str) -> str:
    return " ".join(text.split())

"""Reply text from a GGUF language model through llama-cpp-python, streamed piece by piece.

``stream(prompt)`` is a generator: closing it (the runtime does on barge-in) closes
llama-cpp-python's completion generator at once, so no further token is decoded. The
next call starts a fresh completion; llama.cpp keeps the KV cache of the longest common
prompt prefix, so the fixed few-shot head is prefilled only once per process.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

from livesense.agents.cascade.config import check_gguf, default_gguf_path

log = logging.getLogger(__name__)

STOP = ["\nUser:", "\n"]  # a base model would otherwise write the user's next line too


def _import_llama():
    try:
        from llama_cpp import Llama
    except ImportError as e:
        raise ImportError('the cascade LLM needs llama-cpp-python: CMAKE_ARGS="-DGGML_NATIVE=OFF '
                          '-DLLAVA_BUILD=OFF" pip install llama-cpp-python==0.3.36') from e
    return Llama


class LlamaLLM:
    """Greedy (or low-temperature, seeded) streaming completion with stop strings."""

    def __init__(self, gguf_path: str | Path | None = None, threads: int = 1, n_ctx: int = 1024,
                 max_tokens: int = 40, temperature: float = 0.0, seed: int = 0) -> None:
        self.gguf_path = Path(gguf_path) if gguf_path is not None else None
        self.threads = threads
        self.n_ctx = n_ctx
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.seed = seed
        self._llama = None

    def load(self) -> None:
        if self._llama is not None:
            return
        path = check_gguf(self.gguf_path or default_gguf_path())
        Llama = _import_llama()
        log.info("loading GGUF from %s", path)
        self._llama = Llama(model_path=str(path), n_ctx=self.n_ctx, n_threads=self.threads,
                            n_threads_batch=self.threads, seed=self.seed, verbose=False)

    def prefill(self, text: str) -> int:
        """Decode ``text`` (the start of a coming prompt) into the KV cache now; the next
        ``stream`` whose prompt starts with it decodes only the rest. Returns the number of
        tokens decoded (0: already cached). Must not run while a ``stream`` is open."""
        self.load()
        llama = self._llama
        tokens = llama.tokenize(text.encode("utf-8"), special=True)  # as create_completion does
        same = llama.longest_token_prefix(llama.input_ids[: llama.n_tokens], tokens)
        if same == len(tokens):
            return 0
        llama.n_tokens = same  # eval() drops the KV cache from here on
        llama.eval(tokens[same:])
        return len(tokens) - same

    def stream(self, prompt: str, max_tokens: int | None = None) -> Iterator[str]:
        """Text pieces of the completion of ``prompt`` as llama.cpp decodes them."""
        self.load()
        completion = self._llama.create_completion(
            prompt, max_tokens=max_tokens or self.max_tokens, temperature=self.temperature,
            top_k=1 if self.temperature <= 0 else 40, seed=self.seed, stop=STOP, stream=True)
        try:
            for chunk in completion:
                text = chunk["choices"][0]["text"]
                if text:
                    yield text
        finally:
            completion.close()  # stops decoding now, not when the garbage collector runs

"""The cascade agent: Whisper tiny.en -> Gemma 3 270M (llama.cpp) -> Piper, all on the CPU.

Build and warm it like this (the engines import lazily; a missing package raises an
ImportError naming the ``pip install`` to run, a bad model path a ``ModelFileError``)::

    from livesense.agents.cascade import CascadeAgent, CascadeConfig
    agent = CascadeAgent.from_config(CascadeConfig(gguf_path=None))  # None = shipped model
    agent.warm()

Nothing here imports faster-whisper, llama-cpp-python or piper at import time.
"""

from livesense.agents.cascade.agent import CascadeAgent
from livesense.agents.cascade.config import CascadeConfig, ModelFileError
from livesense.agents.cascade.scene import SceneFacts

__all__ = ["CascadeAgent", "CascadeConfig", "ModelFileError", "SceneFacts"]

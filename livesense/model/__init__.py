"""model stage: the native early-fusion model.

Read along the data path: ``layout`` (what each id means, built from the codec and vision
contracts) -> ``positions`` (4-section time-aligned rotary positions) -> ``reference``
(the torch transformer, ``kvcache`` ring, streaming ``step``) -> ``sampling`` (seeded,
range-constrained) -> ``export`` (GGUF + llama.cpp quantization, ONNX + int8) ->
``load.open_model`` (checks a file's livesense.* description, picks a ``backends``
implementation). Nothing heavy is imported here; torch, onnxruntime and llama_cpp load
only when a backend or exporter is used. Design: models/FORMAT.md.
"""

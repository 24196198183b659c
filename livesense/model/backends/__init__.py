"""Inference backends behind one protocol (``protocol.Backend``), each imported lazily:
``torch_backend`` (reference), ``onnx_backend`` (onnxruntime, FP32/int8) and
``llama_backend`` (llama.cpp through llama-cpp-python's low-level API, F32/Q8_0/Q4)."""

"""Exporters: GGUF (llama.cpp, quantized with llama_model_quantize) and ONNX (int8)."""

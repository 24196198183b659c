"""Camera frames -> vision tokens.

scenes     procedural, seeded scenes and clips (training/eval data), held-out pairs
kernels    numba kernels (numpy twins in kernels_ref)
tokenizer  frame -> 6x6 grid of (colour, blob, shape) product-code tokens; CONTRACT
rate       VisionTokenizerStage: emits tokens on scene change, bounded per second
train      k-means codebook training; probe: can attributes be read back from tokens

Nothing is imported here: import the submodule you need (numba and cv2 load lazily).
"""

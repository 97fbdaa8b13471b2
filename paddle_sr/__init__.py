"""paddle_sr: PaddlePaddle super-resolution reproduction suite.

Tensors are float32 NCHW in [-1, 1] throughout the suite; see ``paddle_sr.models`` for how models
trained on another range (official weights on [0, 255]) carry that fact with them.
"""
__version__ = "0.1.0"

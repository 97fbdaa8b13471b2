"""paddle_sr: PaddlePaddle super-resolution reproduction suite.

Tensors are float32 NCHW in [-1, 1] throughout the suite; see ``paddle_sr.models`` for how models
trained on another range (official weights on [0, 255]) carry that fact with them.
"""
import warnings

# Paddle warns about ccache (a C++ extension build cache) at import; the suite builds no extensions.
warnings.filterwarnings("ignore", message="No ccache found")

__version__ = "0.1.0"

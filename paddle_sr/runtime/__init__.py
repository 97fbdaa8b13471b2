"""Layer 6: running a model: device and threads, model facts, tiling, exports (Paddle Inference, ONNX, INT8, the export cache), the engine choice, the memory plan and the one scoring step."""

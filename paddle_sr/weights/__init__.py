"""Layer 3: weight files without any network: PyTorch pickles, MatConvNet, ``.pdparams``, the catalogue of official checkpoints, run-folder names."""

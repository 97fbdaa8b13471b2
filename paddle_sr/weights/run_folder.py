"""What a training run folder (``output/<run>/``) holds, named once, and the ``official`` weights spelling.

Every module that writes or reads a run folder uses these names (``train``, ``training.run``,
``weights.state``, ``apps``); ``official_id`` is the one parser of ``'official'`` / ``'official:ID'``.
"""
import os

CONFIG = "config.json"  # the run's resolved recipe (training.recipes.TrainConfig as JSON)
BEST = "Best.pdparams"  # weights at the best validation PSNR
LAST = "Model.pdparams"  # the latest weights (the EMA weights with --ema)
SRRESNET = "SRResNet.pdparams"  # the joint SRResNet's weights (--joint_srresnet, the SRGAN notebook)
STATE = "state.pdstate"  # a training run's optimizer, schedule and RNG state (training.run)
LOCK = "train.lock"  # present while a training writes the folder (training.run.RunLock)
LOG_DIR = "vdl"  # the VisualDL log folder (visualdl --logdir output/<run>/vdl)
COMPARISON = "comparison.png"  # LR / bicubic / SR (Best) / HR of the first validation image, at the end
WEIGHT_FILES = (LAST, BEST)  # the weights files a run writes, latest first

OFFICIAL = "official"  # --weights official / official:ID: the authors' released checkpoints


def official_id(spec):
    """The checkpoint id of an ``'official:ID'`` spelling, ``''`` for plain ``'official'`` (the default
    checkpoint of the model and scale), None for anything else (a weights file)."""
    spec = os.fspath(spec) if isinstance(spec, os.PathLike) else spec
    if not isinstance(spec, str):
        return None
    if spec == OFFICIAL:
        return ""
    if spec.startswith(OFFICIAL + ":"):
        return spec.split(":", 1)[1]
    return None


def run_config(weights):
    """The resolved recipe (``config.json``) of the training run a weights file lies in, or None."""
    import json

    if official_id(weights) is not None:
        return None  # the authors' released weights (paddle_sr.pretrained), not a file in a run folder
    path = os.path.join(os.path.dirname(os.path.abspath(os.fspath(weights))), CONFIG)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)

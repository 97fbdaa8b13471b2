"""A training run's folder as other tools read it: the names of the files it holds and its resolved recipe
(``config.json``), so a run's weights rebuild the model it trained.
"""
import os

STATE = "state.pdstate"  # a training run's optimizer, schedule and RNG state (training.run)


def run_config(weights):
    """The resolved recipe (``config.json``) of the training run a weights file lies in, or None."""
    import json

    if str(weights) == "official" or str(weights).startswith("official:"):
        return None  # the authors' released weights (paddle_sr.pretrained), not a file in a run folder
    path = os.path.join(os.path.dirname(os.path.abspath(os.fspath(weights))), "config.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)

"""Step parity of the EDSR-PyTorch-style recipes with their official trainers (``tests/step_parity.py``):
``rcan``, ``san``, ``wdsr_a`` / ``wdsr_b`` (the 2018 EDSR-PyTorch trainer that RCAN and SAN copied:
``tests/reference/rcan_train_torch.py``), ``rdn`` and ``edsr`` (today's EDSR-PyTorch trainer:
``tests/reference/edsr_train_torch.py``; ``edsr_baseline`` is ``tests/test_step_parity_edsr.py``).

Each run: 20 steps of a reduced model (tests/tiny.py) on the recipe's optimiser, loss, loss range, mean-shift
choice and schedule, the schedule compressed to an "epoch" of 5 iterations with the lr decayed after 2 epochs
so that the step falls inside the 20 steps; both sides from the same weights on the same batches. Each test
also re-runs the suite with the fix reverted (the old [-1, 1] loss range; RCAN/SAN's mean shift frozen) and
checks that it leaves the official trajectory. Then the full-length schedules, the x2 -> x3/x4 warm start and
the official skip of exploding batches (a difference kept on purpose).
"""
from dataclasses import replace

import numpy as np
import paddle
import pytest
import torch

from paddle_sr import configs, models, train
from paddle_sr.checkpoint import warm_start
from paddle_sr.configs import EPOCH as TEST_EVERY
from paddle_sr.errors import SRError
from tests.reference import edsr_family_torch as ref
from tests.reference import edsr_train_torch as edsr_trainer
from tests.reference import esrgan_wdsr_lapsrn_torch as ref_wdsr
from tests.reference import rcan_train_torch as rcan_trainer
from tests.reference import swinir_san_torch as ref_san
from tests.step_parity import assert_step_parity, fixed_batches, step_parity, suite_trajectory
from tests.tiny import TINY

EPOCH = 5  # the test's test_every: the lr decays after 2 epochs, i.e. from iteration 11 on


def _rcan(scale):
    model = ref.make_rcan(scale, **TINY["rcan"])
    # RCAN_TrainCode/code/model/common.py MeanShift ends with ``self.requires_grad = False``: a module
    # attribute, no parameter is frozen. The re-typed EDSR-PyTorch MeanShift here freezes them; undo that.
    for p in list(model.sub_mean.parameters()) + list(model.add_mean.parameters()):
        p.requires_grad = True
    return model


OFFICIAL = {  # recipe: (the official model from TINY settings, trainer module, trainer overrides)
    "rcan": (_rcan, rcan_trainer, {}),
    "san": (lambda s: ref_san.SAN(scale=s, **TINY["san"]), rcan_trainer, dict(beta2=0.99)),
    "wdsr_a": (lambda s: ref_wdsr.make_wdsr("A", s, **TINY["wdsr_a"]), rcan_trainer, {}),
    "wdsr_b": (lambda s: ref_wdsr.make_wdsr("B", s, **TINY["wdsr_b"]), rcan_trainer, {}),
    "rdn": (lambda s: ref.make_rdn(s, G0=8, RDNconfig=(2, 2, 4)), edsr_trainer, {}),
    "edsr": (lambda s: ref.make_edsr(s, **TINY["edsr"]), edsr_trainer, {}),
}


def small(name):
    base = configs.resolve(name, {"scale": "2"})
    return replace(base, model_kwargs={**base.model_kwargs, **TINY[name]}, patch_size=12, batch_size=4,
                   milestones=(2 * EPOCH,), iterations=20, lr=1e-3)


def official(name, cfg, batches, init, dtype):
    make, trainer, extra = OFFICIAL[name]
    torch.manual_seed(0)
    model = make(cfg.scale)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in init.items()})
    if trainer is rcan_trainer:
        kw = dict(lr_decay=2, test_every=EPOCH)
    else:
        kw = dict(decay="2", test_every=EPOCH)
    return trainer.train_trajectory(model, batches, dtype, lr=cfg.lr, **{**kw, **extra})


_RUNS = {}


def run(name):
    if name not in _RUNS:
        cfg = small(name)
        batches = fixed_batches(cfg, 20)
        suite = suite_trajectory(cfg, batches)
        _RUNS[name] = (cfg, batches, suite, official(name, cfg, batches, suite.init, torch.float32),
                       official(name, cfg, batches, suite.init, torch.float64))
    return _RUNS[name]


@pytest.mark.parametrize("name", list(OFFICIAL))
def test_recipe_takes_the_official_steps(name):
    cfg, _, suite, ref32, ref64 = run(name)
    assert cfg.loss_range == "0,255"
    parity = assert_step_parity(suite, ref32, ref64)
    print(f"{name} vs {cfg.trainer}: {parity}")
    assert suite.lrs[9] == pytest.approx(1e-3) and suite.lrs[10] == pytest.approx(5e-4)
    assert not getattr(ref64, "skipped", [])


@pytest.mark.parametrize("name", list(OFFICIAL))
def test_the_old_loss_range_leaves_the_official_trajectory(name):
    """Teeth: the pixel loss on the suite's [-1, 1] (Adam's epsilon 127.5x too large in effect) fails."""
    cfg, batches, suite, ref32, ref64 = run(name)
    old = suite_trajectory(replace(cfg, loss_range="-1,1"), batches, init=suite.init)
    parity = step_parity(old, ref32, ref64)
    print(f"{name}, loss on [-1, 1]: {parity}")
    assert parity.weights_gap > parity.tol, str(parity)  # the weights, not only the 127.5x smaller loss values


@pytest.mark.parametrize("name", ["rcan", "san"])
def test_a_frozen_mean_shift_leaves_the_official_trajectory(name):
    """RCAN's and SAN's official MeanShift (``self.requires_grad = False`` on the module) trains: freezing it
    is another optimisation, and the test sees it."""
    cfg, batches, suite, ref32, ref64 = run(name)
    assert cfg.train_mean_shift
    assert not np.array_equal(suite.weights["sub_mean.bias"], suite.init["sub_mean.bias"])
    frozen = suite_trajectory(replace(cfg, train_mean_shift=False), batches, init=suite.init)
    parity = step_parity(frozen, ref32, ref64)
    print(f"{name}, mean shift frozen: {parity}")
    assert parity.weights_gap > 10 * parity.tol, str(parity)


def test_rdn_computes_on_the_official_range():
    """EDSR-PyTorch feeds RDN (no mean shift) 0-255 images: the recipe's RDN works on [0, 255] inside
    (``value_range``), and an RDN on the suite's [-1, 1] leaves the official trajectory."""
    cfg, batches, suite, ref32, ref64 = run("rdn")
    assert list(cfg.model_kwargs["value_range"]) == [0, 255]
    kwargs = {k: v for k, v in cfg.model_kwargs.items() if k != "value_range"}
    old = suite_trajectory(replace(cfg, model_kwargs=kwargs), batches, init={k: v for k, v in suite.init.items()
                                                                             if k != "value_range"})
    parity = step_parity(old, ref32, ref64)
    print(f"rdn on [-1, 1] inside: {parity}")
    assert parity.weights_gap > 10 * parity.tol, str(parity)

"""Step parity of the ``edsr_baseline`` recipe with EDSR-PyTorch's trainer (``tests/step_parity.py``).

20 steps of a reduced EDSR-baseline (the recipe's optimiser, loss, loss range and schedule; the schedule
compressed to an "epoch" of 5 iterations so that its milestone falls inside the 20 steps) from the same
weights on the same batches as ``tests/reference/edsr_train_torch.py``, which runs in float32 and float64.
"""
from dataclasses import replace

import numpy as np
import pytest
import torch

from paddle_sr.training import recipes as configs
from tests.reference import edsr_family_torch as ref
from tests.reference.edsr_train_torch import train_trajectory
from tests.step_parity import assert_step_parity, fixed_batches, step_parity, suite_trajectory
from tests.tiny import TINY

EPOCH = 5  # the official test_every of this test: the milestone "epoch 2" is iteration 10


@pytest.fixture(scope="module")
def run():
    cfg = replace(configs.resolve("edsr_baseline", {"scale": "2"}), model_kwargs=TINY["edsr_baseline"],
                  patch_size=12, batch_size=4, milestones=(2 * EPOCH,), iterations=20, lr=1e-3)
    batches = fixed_batches(cfg, 20)
    suite = suite_trajectory(cfg, batches)

    def official(dtype):
        torch.manual_seed(0)
        model = ref.make_edsr_baseline(2, **TINY["edsr_baseline"])
        model.load_state_dict({k: torch.from_numpy(v) for k, v in suite.init.items()})
        return train_trajectory(model, batches, dtype, lr=cfg.lr, decay="2", test_every=EPOCH)

    return cfg, batches, suite, official(torch.float32), official(torch.float64)


def test_edsr_baseline_takes_edsr_pytorch_steps(run):
    cfg, _, suite, ref32, ref64 = run
    assert cfg.loss_range == "0,255" and not cfg.train_mean_shift
    parity = assert_step_parity(suite, ref32, ref64)
    print(f"edsr_baseline vs EDSR-PyTorch trainer.py: {parity}")
    assert suite.lrs[9] == pytest.approx(1e-3) and suite.lrs[10] == pytest.approx(5e-4)  # the milestone, seen
    # EDSR-PyTorch freezes the mean shift (MeanShift sets p.requires_grad = False): it must not have moved
    for key in ("sub_mean.weight", "sub_mean.bias", "add_mean.weight", "add_mean.bias"):
        np.testing.assert_array_equal(suite.weights[key], suite.init[key])


def test_the_old_loss_range_leaves_the_official_trajectory(run):
    """The test has teeth: L1 on the suite's [-1, 1] (Adam's epsilon 127.5x too large in effect) fails it."""
    cfg, batches, suite, ref32, ref64 = run
    old = suite_trajectory(replace(cfg, loss_range="-1,1"), batches, init=suite.init)
    parity = step_parity(old, ref32, ref64)
    assert not parity.ok and parity.weights_gap > 10 * parity.tol, str(parity)

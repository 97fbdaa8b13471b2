"""The Caffe-trained recipes (DRRN; SRCNN) against Caffe's solver rules, where no step-parity test is possible.

The authors' trainers are Caffe (DRRN: tyshiwo/DRRN_CVPR17 ``caffe_files/DRRN_B1U25_52C128/*_solver.prototxt``;
SRCNN: the authors' Caffe code, not public on GitHub), with no PyTorch training code to re-type. What is
checked here is the part of the step the suite can be held to: the LR schedule (Caffe ``SGDSolver::
GetLearningRate`` "step": ``base_lr * gamma ^ floor(iter_ / stepsize)`` with ``iter_`` the completed
iterations) and Caffe's momentum update (``SGDSolver::ComputeUpdateValue``: ``history = momentum * history +
local_rate * diff``; ``data -= history``, after ``ClipGradients`` and ``Regularize``), which equals Paddle's
momentum SGD (``v = momentum * v + g``; ``w -= lr * v``) while the lr is constant, and differs, by design
of the two, at each lr change: that difference is kept and pinned below.
"""
import numpy as np
import paddle
import pytest

from paddle_sr.training import recipes as configs
from paddle_sr import train
from tests.step_parity import suite_lr


def caffe_step_lr(it, base_lr=0.1, gamma=0.5, stepsize=65_360):
    """The lr Caffe uses for (1-based) iteration ``it``: ``iter_ = it - 1`` iterations completed."""
    return base_lr * gamma ** ((it - 1) // stepsize)


def test_drrn_schedule_is_caffes_step_policy():
    cfg = configs.resolve("drrn", {})
    assert cfg.trainer.startswith("tyshiwo/DRRN_CVPR17")
    changes = [k * 65_360 + 1 for k in range(1, 11)]  # 660,136 iterations: ten halvings
    probe = sorted({1, cfg.iterations} | {c + d for c in changes for d in (-1, 0, 1)})
    np.testing.assert_allclose([suite_lr(cfg, it) for it in probe], [caffe_step_lr(it) for it in probe],
                               rtol=1e-12)
    assert caffe_step_lr(65_361) == 0.05 and caffe_step_lr(65_360) == 0.1


def _updates(lrs, grads, momentum=0.9, caffe=False):
    """One scalar weight under momentum SGD: Caffe's (lr inside the history) or Paddle's / torch's."""
    w, v, out = 0.0, 0.0, []
    for lr, g in zip(lrs, grads):
        if caffe:
            v = momentum * v + lr * g
            w -= v
        else:
            v = momentum * v + g
            w -= lr * v
        out.append(w)
    return out


def _paddle_updates(lrs, grads, momentum=0.9):
    """The suite's optimizer (``train.make_optimizer`` with optimizer 'sgd') on one scalar weight."""
    cfg = configs.resolve("drrn", {"weight_decay": "0", "grad_clip": "0", "milestones": ""})
    assert cfg.momentum == momentum
    w = paddle.create_parameter([1], "float64", default_initializer=paddle.nn.initializer.Constant(0.0))
    opt, _ = train.make_optimizer(cfg, [w], lrs[0])
    out = []
    for lr, g in zip(lrs, grads):
        opt.set_lr(lr)
        (w * g).sum().backward()
        opt.step()
        opt.clear_grad()
        out.append(float(w.numpy()[0]))
    return out


def test_caffe_and_suite_momentum_agree_at_constant_lr_and_differ_after_a_halving():
    grads = [1.0, -0.5, 0.25, 2.0, -1.0, 0.5, 1.5, -0.25]
    constant = [0.1] * len(grads)
    suite = _paddle_updates(constant, grads)
    np.testing.assert_allclose(suite, _updates(constant, grads), rtol=1e-6)  # the suite is torch's rule
    np.testing.assert_allclose(suite, _updates(constant, grads, caffe=True), rtol=1e-6)  # = Caffe's here
    halved = [0.1] * 4 + [0.05] * 4
    suite = _paddle_updates(halved, grads)
    np.testing.assert_allclose(suite, _updates(halved, grads), rtol=1e-6)
    caffe = _updates(halved, grads, caffe=True)
    assert suite[3] == pytest.approx(caffe[3])
    # after the halving Caffe still applies the old lr to its history: the step right after it differs
    # by 0.9 x (0.1 - 0.05) x v, decaying by 0.9 each step (kept: see the DRRN recipe comment)
    assert abs(suite[4] - caffe[4]) > 1e-3


def test_srcnn_learning_rate_multipliers_are_the_prototxts():
    """SRCNN_net.prototxt (as quoted, see the recipe): conv1/conv2 weights lr_mult 1, every bias and conv3's
    weights 0.1. ``bias_lr_mult`` replaces the model's own multiplier on the biases (conv3's stays 0.1)."""
    cfg = configs.resolve("srcnn", {})
    nets, _, _ = train.build_nets(cfg, fresh=True)
    mult = {n: p.optimize_attr["learning_rate"] for n, p in nets[0].layer.named_parameters()}
    assert mult == {"conv1.weight": 1.0, "conv1.bias": 0.1, "conv2.weight": 1.0, "conv2.bias": 0.1,
                    "conv3.weight": 0.1, "conv3.bias": 0.1}

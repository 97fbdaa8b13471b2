"""IGNN's training loop, re-typed (test-only): sczhou/IGNN ``core/train.py`` (``train``: the scheduler stepped
at the start of every epoch, then per batch ``net(img_lr_s, img_lr)``, ``pixelLoss``, ``zero_grad``,
``backward``, ``step``), ``core/build.py`` (``torch.optim.Adam`` over the parameters with ``requires_grad``,
betas (TRAIN.MOMENTUM 0.9, TRAIN.BETA 0.999), torch's eps 1e-8; ``MultiStepLR(milestones=LR_MILESTONES,
gamma=LR_DECAY)``), ``losses/losses.py`` (``pixelLoss``: ``nn.L1Loss()``), ``config.py`` (defaults below),
``utils/data_loaders.py`` / ``runner.py`` (images on [0, 255]: ``Normalize`` is commented out; the son
``imresize(img_lr / 255, 1 / s) * 255`` clamped, made by ``ignn_torch.make_son``).

Written for PyTorch 1.1.0 (README), whose ``MultiStepLR`` constructor already steps to epoch 0, so the
``lr_scheduler.step()`` before each epoch puts epoch ``e`` (0-based) at ``last_epoch = e + 1``: the lr halves
one epoch before each milestone. Today's torch does the same, and is used. Deviation, for testing: the batches
are the suite's fixed numpy batches on [-1, 1] mapped onto [0, 255].
"""
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn as nn

from tests.reference import ignn_torch, torch_state_to_numpy

TRAIN = SimpleNamespace(LEARNING_RATE=1e-4, LR_MILESTONES=[16, 32, 48, 64], LR_DECAY=0.5, MOMENTUM=0.9, BETA=0.999,
                        MAX_INTERS_PER_EPOCH=10000)  # config.py (milestones: [8, 16, 24, 32] x batch 2)


def make_solver(net, train):
    solver = torch.optim.Adam(filter(lambda p: p.requires_grad, net.parameters()), lr=train.LEARNING_RATE,
                              betas=(train.MOMENTUM, train.BETA))
    return solver, torch.optim.lr_scheduler.MultiStepLR(solver, milestones=train.LR_MILESTONES, gamma=train.LR_DECAY)


def epoch_lrs(epochs, **overrides):
    """The lr of epochs 0..epochs-1 as ``core/train.py`` runs them."""
    train = SimpleNamespace(**{**vars(TRAIN), **overrides})
    solver, sched = make_solver(nn.Linear(1, 1), train)
    out = []
    for _ in range(epochs):
        solver.step()
        sched.step()
        out.append(solver.param_groups[0]["lr"])
    return out


def to_official(x):
    return torch.from_numpy(np.ascontiguousarray((x.astype(np.float64) + 1.0) * 127.5))


def train_trajectory(net, batches, dtype=torch.float32, **overrides):
    from tests.step_parity import Trajectory

    train = SimpleNamespace(**{**vars(TRAIN), **overrides})
    # the data loader's son, float32 (utils/imresize.py fills torch.FloatTensor) in either run
    sons = [torch.stack([ignn_torch.make_son(im) for im in to_official(lr).float()]) for lr, _ in batches]
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        net = net.to(dtype)
        init = torch_state_to_numpy(net)
        solver, lr_scheduler = make_solver(net, train)
        loss_fn = nn.L1Loss()
        losses, lrs = [], []
        for start in range(0, len(batches), train.MAX_INTERS_PER_EPOCH):
            lr_scheduler.step()
            for i in range(start, min(start + train.MAX_INTERS_PER_EPOCH, len(batches))):
                lr, hr = batches[i]
                img_lr, img_hr = to_official(lr).to(dtype), to_official(hr).to(dtype)
                img_lr_s = sons[i].to(dtype)
                lrs.append(solver.param_groups[0]["lr"])
                net.train()
                img_out = net(img_lr_s, img_lr)
                pixel_loss = loss_fn(img_out, img_hr)
                solver.zero_grad()
                pixel_loss.backward()
                solver.step()
                losses.append({"pixel": pixel_loss.item()})
        return Trajectory(losses, lrs, torch_state_to_numpy(net), init)
    finally:
        torch.set_default_dtype(previous)

"""The EDSR-PyTorch training step, re-typed (test-only): sanghyun-son/EDSR-PyTorch ``src/trainer.py``
(``Trainer.train``), ``src/utility.py`` (``make_optimizer``: Adam or SGD over the parameters with
``requires_grad``, MultiStepLR stepped by ``optimizer.schedule()`` once per epoch), ``src/loss/__init__.py``
(``--loss 1*L1``: ``nn.L1Loss()`` weighted 1), ``src/data/common.py`` (``np2Tensor``: HWC uint8 -> CHW float
multiplied by ``rgb_range / 255``). Used by ``tests/test_step_parity_edsr.py`` through ``tests/step_parity.py``.

Deviation, for testing: the batches are the suite's fixed numpy batches on [-1, 1], mapped onto
[0, rgb_range] exactly as ``np2Tensor`` maps 0-255 images (they are not integer-valued, which the step does
not care about); ``--gclip`` (``clip_grad_value_``) is kept; ``skip_threshold`` lives outside the step in
``Trainer.train`` of older versions and is not part of it.
"""
from argparse import Namespace

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
import torch.optim.lr_scheduler as lrs

from tests.reference import torch_state_to_numpy

DEFAULTS = dict(lr=1e-4, betas=(0.9, 0.999), epsilon=1e-8, weight_decay=0, optimizer="ADAM", momentum=0.9,
                decay="200", gamma=0.5, gclip=0, rgb_range=255, test_every=1000)


def make_optimizer(args, target):
    """``utility.make_optimizer``: the optimizer class extended with its MultiStepLR (``schedule()``)."""
    trainable = filter(lambda x: x.requires_grad, target.parameters())
    kwargs_optimizer = {"lr": args.lr, "weight_decay": args.weight_decay}
    if args.optimizer == "SGD":
        optimizer_class = optim.SGD
        kwargs_optimizer["momentum"] = args.momentum
    elif args.optimizer == "ADAM":
        optimizer_class = optim.Adam
        kwargs_optimizer["betas"] = args.betas
        kwargs_optimizer["eps"] = args.epsilon
    milestones = list(map(lambda x: int(x), args.decay.split("-")))
    kwargs_scheduler = {"milestones": milestones, "gamma": args.gamma}
    scheduler_class = lrs.MultiStepLR

    class CustomOptimizer(optimizer_class):
        def __init__(self, *a, **kwargs):
            super().__init__(*a, **kwargs)

        def _register_scheduler(self, scheduler_class, **kwargs):
            self.scheduler = scheduler_class(self, **kwargs)

        def schedule(self):
            self.scheduler.step()

        def get_lr(self):
            return self.scheduler.get_last_lr()[0]

        def get_last_epoch(self):
            return self.scheduler.last_epoch

    optimizer = CustomOptimizer(trainable, **kwargs_optimizer)
    optimizer._register_scheduler(scheduler_class, **kwargs_scheduler)
    return optimizer


def to_official(x, rgb_range):
    """Suite [-1, 1] -> what ``np2Tensor`` hands the model: [0, 255] scaled by ``rgb_range / 255``."""
    return torch.from_numpy(np.ascontiguousarray((x.astype(np.float64) + 1.0) * 127.5 * (rgb_range / 255.0)))


def train_trajectory(model, batches, dtype=torch.float32, **overrides):
    """Run ``Trainer.train``'s step on ``batches`` (numpy (lr, hr) on [-1, 1]), one optimizer step each and
    ``schedule()`` after every ``test_every`` batches (an epoch). Returns (losses, lrs, final, init) with
    the losses as the suite names them ({'pixel': L1}) and weights as numpy in the official names."""
    from tests.step_parity import Trajectory

    args = Namespace(**{**DEFAULTS, **overrides})
    model = model.to(dtype)
    init = torch_state_to_numpy(model)
    optimizer = make_optimizer(args, model)
    loss_fn = nn.L1Loss()  # loss/__init__.py: '1*L1' -> weight 1 x nn.L1Loss()
    losses, lrs = [], []
    model.train()
    for batch, (lr, hr) in enumerate(batches):
        lr, hr = (to_official(a, args.rgb_range).to(dtype) for a in (lr, hr))
        lrs.append(optimizer.get_lr())
        optimizer.zero_grad()
        sr = model(lr)
        loss = 1.0 * loss_fn(sr, hr)
        loss.backward()
        if args.gclip > 0:
            nn.utils.clip_grad_value_(model.parameters(), args.gclip)
        optimizer.step()
        losses.append({"pixel": loss.item()})
        if (batch + 1) % args.test_every == 0:  # the end of an epoch: Trainer.train -> optimizer.schedule()
            optimizer.schedule()
    return Trajectory(losses, lrs, torch_state_to_numpy(model), init)

"""RCAN's training loop, re-typed (test-only): yulunzhang/RCAN ``RCAN_TrainCode/code/trainer.py``
(``Trainer.train``), ``utility.py`` (``make_optimizer``: Adam over the parameters with ``requires_grad``;
``make_scheduler``: ``lrs.StepLR(step_size=args.lr_decay, gamma=args.gamma)`` for ``--decay_type step``),
``loss/__init__.py`` (``--loss 1*L1``: ``nn.L1Loss()`` weighted 1), ``option.py`` (defaults below),
``data/common.py`` (``np2Tensor``: 0-255 images multiplied by ``rgb_range / 255``).

The same trainer is the EDSR-PyTorch of 2018 that RCAN copied, and the one daitao/SAN ``TrainCode/trainer.py``
/ ``utility.py`` copied again (SAN's ``option.py``: Adam betas (0.9, 0.99)), and the one WDSR was trained in
(JiahuiYu/wdsr_ntire2018 README: EDSR-PyTorch at commit 95f0571, mid-2018; that snapshot could not be read
here -- RCAN's copy stands in for it, and today's EDSR-PyTorch trainer would take the same 20 steps, the lr
changing after the same full epochs and the skip never firing). Used by
``tests/test_step_parity_edsr_family.py``.

What it does differently from today's EDSR-PyTorch (``tests/reference/edsr_train_torch.py``):
- the scheduler is stepped at the *start* of every epoch (``self.scheduler.step()`` first thing in
  ``train()``), written for PyTorch 0.4.0 (RCAN's README), whose ``_LRScheduler.__init__`` calls
  ``self.step(last_epoch + 1)`` and then resets ``self.last_epoch = last_epoch`` (-1). So epoch e (1-based)
  runs with ``last_epoch = e - 1`` and lr ``lr * gamma ** ((e - 1) // lr_decay)``: halved from epoch
  ``lr_decay + 1`` on, after ``lr_decay`` full epochs -- the same iterations as today's MultiStepLR
  stepped at the end of each epoch. ``StepLR04`` below is that scheduler re-typed from PyTorch 0.4.0
  (``torch/optim/lr_scheduler.py``); under PyTorch >= 1.1 (``modern=True``: the constructor's initial step
  is kept) the same trainer halves one epoch early.
- a batch whose loss is not below ``skip_threshold * error_last`` is skipped (no backward, no step);
  ``error_last`` is 1e8 at first, then the mean loss of the previous epoch. The default 1e6 never fires
  on a sane run; a NaN loss is always skipped (``nan < x`` is False).
"""
from argparse import Namespace

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
import torch.optim.lr_scheduler as lrs

from tests.reference import torch_state_to_numpy

# RCAN_TrainCode/code/option.py defaults (SAN's option.py: beta2 0.99)
DEFAULTS = dict(lr=1e-4, lr_decay=200, decay_type="step", gamma=0.5, optimizer="ADAM", momentum=0.9, beta1=0.9,
                beta2=0.999, epsilon=1e-8, weight_decay=0, skip_threshold=1e6, rgb_range=255, test_every=1000)


def make_optimizer(args, my_model):
    """``utility.make_optimizer``."""
    trainable = filter(lambda x: x.requires_grad, my_model.parameters())
    if args.optimizer == "SGD":
        optimizer_function = optim.SGD
        kwargs = {"momentum": args.momentum}
    elif args.optimizer == "ADAM":
        optimizer_function = optim.Adam
        kwargs = {"betas": (args.beta1, args.beta2), "eps": args.epsilon}
    kwargs["lr"] = args.lr
    kwargs["weight_decay"] = args.weight_decay
    return optimizer_function(trainable, **kwargs)


class StepLR04:
    """PyTorch 0.4.0's ``StepLR`` (``_LRScheduler`` base): closed-form ``get_lr``, ``step(epoch=None)``."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.step_size, self.gamma = step_size, gamma
        self.step(last_epoch + 1)
        self.last_epoch = last_epoch

    def get_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]

    def step(self, epoch=None):
        if epoch is None:
            epoch = self.last_epoch + 1
        self.last_epoch = epoch
        for param_group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            param_group["lr"] = lr


def make_scheduler(args, my_optimizer, modern=False):
    """``utility.make_scheduler`` ('step'; 'step_a_b_...' is MultiStepLR), under PyTorch 0.4.0 unless ``modern``."""
    if args.decay_type == "step":
        if modern:
            return lrs.StepLR(my_optimizer, step_size=args.lr_decay, gamma=args.gamma)
        return StepLR04(my_optimizer, step_size=args.lr_decay, gamma=args.gamma)
    milestones = list(map(int, args.decay_type.split("_")[1:]))
    return lrs.MultiStepLR(my_optimizer, milestones=milestones, gamma=args.gamma)


def epoch_lrs(epochs, modern=False, **overrides):
    """The lr ``Trainer.train`` uses in epochs 1..epochs (scheduler stepped at each epoch's start)."""
    args = Namespace(**{**DEFAULTS, **overrides})
    opt = make_optimizer(args, nn.Linear(1, 1))
    sched = make_scheduler(args, opt, modern)
    out = []
    for _ in range(epochs):
        sched.step()
        out.append(opt.param_groups[0]["lr"])
    return out


def to_official(x, rgb_range):
    """Suite [-1, 1] -> what ``np2Tensor`` hands the model: [0, 255] scaled by ``rgb_range / 255``."""
    return torch.from_numpy(np.ascontiguousarray((x.astype(np.float64) + 1.0) * 127.5 * (rgb_range / 255.0)))


def train_trajectory(model, batches, dtype=torch.float32, **overrides):
    """Run ``Trainer.train`` over ``batches`` (numpy (lr, hr) on [-1, 1]) in epochs of ``test_every`` batches.
    Returns the Trajectory ({'pixel': L1} per batch, the lr of each batch, weights in the official names);
    ``skipped`` lists the (0-based) batches the skip rule left out."""
    from tests.step_parity import Trajectory

    args = Namespace(**{**DEFAULTS, **overrides})
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # tensors the official code makes inside forward (SAN's iSQRT) follow
    try:
        model = model.to(dtype)
        init = torch_state_to_numpy(model)
        optimizer = make_optimizer(args, model)
        scheduler = make_scheduler(args, optimizer)
        loss_fn = nn.L1Loss()  # loss/__init__.py: '1*L1'
        error_last = 1e8
        losses, lrs_, skipped = [], [], []
        model.train()
        for start in range(0, len(batches), args.test_every):  # one Trainer.train() call per epoch
            scheduler.step()
            epoch_losses = []
            for batch, (lr, hr) in enumerate(batches[start:start + args.test_every], start=start):
                lr, hr = (to_official(a, args.rgb_range).to(dtype) for a in (lr, hr))
                lrs_.append(optimizer.param_groups[0]["lr"])
                optimizer.zero_grad()
                sr = model(lr)
                loss = 1.0 * loss_fn(sr, hr)
                if loss.item() < args.skip_threshold * error_last:
                    loss.backward()
                    optimizer.step()
                else:
                    skipped.append(batch)
                losses.append({"pixel": loss.item()})
                epoch_losses.append(loss.item())
            error_last = float(np.mean(epoch_losses))  # loss.end_log: the epoch's mean; log[-1, -1]
        traj = Trajectory(losses, lrs_, torch_state_to_numpy(model), init)
        traj.skipped = skipped
        return traj
    finally:
        torch.set_default_dtype(previous)

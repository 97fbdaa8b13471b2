"""Official training steps of LIIF, IMDN, CARN / CARN-M and VDSR (pytorch-vdsr), re-typed (test-only).

Each ``*_trajectory`` takes the suite's fixed numpy batches (``tests/step_parity.fixed_batches``, on
[-1, 1]), maps them onto the range and layout the official data loader hands to the model, runs the
official step and LR rule for every batch, and returns a ``tests.step_parity.Trajectory`` with the suite's
loss names ({'pixel': ...}) and the weights as numpy in the official (= suite) parameter names.

Sources (read, not imported):
- LIIF: yinboc/liif ``train_liif.py`` (``train``: ``nn.L1Loss()`` on ``(gt - 0.5) / 0.5`` against
  ``model((inp - 0.5) / 0.5, coord, cell)``; ``prepare_training``: ``utils.make_optimizer`` = ``Adam(lr=1e-4)``
  over all parameters, ``MultiStepLR(milestones, gamma)`` stepped once after each epoch in ``main``),
  ``configs/train-div2k/train_rdn-liif.yaml`` (``data_norm`` sub 0.5 div 0.5; milestones [200, 400, 600, 800]),
  ``datasets/wrappers.py`` ``SRImplicitDownsampled`` (inp, coord, cell, gt with images from ``ToTensor``: [0, 1]).
- IMDN: Zheng222/IMDN ``train_IMDN.py`` (``optim.Adam(model.parameters(), lr=args.lr)``, ``nn.L1Loss()``,
  ``train(epoch)`` calls ``utils.adjust_learning_rate(optimizer, epoch, step_size, lr, gamma)`` first:
  ``lr * gamma ** (epoch // step_size)`` with epochs counted from 1; ``--rgb_range 1`` and ``data/common.py``
  ``np2Tensor``: images multiplied by ``rgb_range / 255``: [0, 1]).
- CARN: nmhkahn/CARN-pytorch ``carn/solver.py`` (``Solver.__init__``: ``nn.L1Loss()``, ``optim.Adam(filter(
  requires_grad), cfg.lr)``; ``fit``: ``sr = refiner(lr, scale)``, ``loss_fn(sr, hr)``, ``zero_grad``,
  ``backward``, ``clip_grad_norm(parameters, cfg.clip)``, ``step``, THEN ``decay_learning_rate()`` =
  ``cfg.lr * 0.5 ** (self.step // cfg.decay)`` with the step count before its increment, for the next batch),
  ``carn/dataset.py`` (``transforms.ToTensor()``: [0, 1]); the single-scale model ``model(scale=cfg.scale,
  group=cfg.group)`` (``upsample.up``).
- VDSR: twtygqyy/pytorch-vdsr ``main_vdsr.py`` (``optim.SGD(lr, momentum 0.9, weight_decay 1e-4)``,
  ``nn.MSELoss(size_average=False)``: summed over the batch and the pixels, ``zero_grad``, ``backward``,
  ``clip_grad_norm(model.parameters(), opt.clip)`` (0.4), ``step``; ``train`` sets ``lr = opt.lr * 0.1 **
  ((epoch - 1) // opt.step)`` at the start of each epoch), ``data/generate_train.m`` (train.h5: the MATLAB
  bicubic-upsampled Y of ``rgb2ycbcr(im2double(.))`` and the HR Y, on [0, 1]).
- LapSRN: phoenix104104/LapSRN (MatConvNet) ``vllab_cnn_train_dag.m`` ``accumulateGradients`` (``parDer =
  der / batchSize + weightDecay x w``; ``state = momentum x state - parDer``; ``w += learningRate x
  param.learningRate x state``), ``init_LapSRN_model.m`` (param learningRate 1 for filters, 0.1 for biases;
  weightDecay 1 for all), ``init_LapSRN_opts.m`` (momentum: cnn_train's default 0.9, weight_decay 1e-4),
  ``learning_rate_policy.m`` (the lr of each epoch), ``vllab_nn_L1_loss.m`` (sum of sqrt(d^2 + 1e-6) over
  every pixel of the batch, weight 1 at every level), ``getBatch_LapSRN.m`` (level targets ``imresize(HR,
  1/2^k)`` of the Y patch on [0, 1]).

Deviation, for testing: an "epoch" is ``epoch_len`` batches (the official epoch is the loader's length);
the batches are the suite's (the suite's crops, MATLAB-bicubic LR), mapped as the official loaders would.
``clip_grad_norm`` is the deprecated spelling of ``clip_grad_norm_`` (same function).
"""
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.optim.lr_scheduler import MultiStepLR

from tests.reference import torch_state_to_numpy


def _t(x, dtype):
    return torch.from_numpy(np.ascontiguousarray(np.asarray(x, dtype=np.float64))).to(dtype)


def to_unit(x):
    """Suite [-1, 1] -> the official ``ToTensor()`` / ``np2Tensor(rgb_range=1)`` range [0, 1]."""
    return (np.asarray(x, dtype=np.float64) + 1.0) / 2.0


def _trajectory(losses, lrs, model, init, key_map=None, transpose=()):
    from tests.step_parity import Trajectory

    final = torch_state_to_numpy(model, transpose=transpose)
    if key_map:
        final, init = key_map(final), key_map(init)
    return Trajectory(losses, lrs, final, init)


# ---- LIIF: train_liif.py ------------------------------------------------------------------------

def liif_trajectory(model, batches, dtype=torch.float32, lr=1e-4, milestones=(200, 400, 600, 800), gamma=0.5,
                    epoch_len=1000, transpose=()):
    """``train_liif.main``/``train`` on ``batches`` of (inp, coord, cell, gt): suite inp/gt on [-1, 1] are
    ``ToTensor`` images on [0, 1] normalised by ``data_norm`` (sub 0.5, div 0.5) -- the suite's values."""
    from tests.reference import liif_torch

    model = model.to(dtype)
    init = torch_state_to_numpy(model, transpose=transpose)
    make_coord = liif_torch.make_coord  # LIIF.query_rgb's feature grid is float32 (``.float()``, then ``.cuda()``)
    liif_torch.make_coord = lambda *a, **k: make_coord(*a, **k).to(dtype)  # the float64 run needs it float64
    try:
        return _liif_run(model, batches, dtype, lr, milestones, gamma, epoch_len, transpose, init)
    finally:
        liif_torch.make_coord = make_coord


def _liif_run(model, batches, dtype, lr, milestones, gamma, epoch_len, transpose, init):
    optimizer = optim.Adam(model.parameters(), lr=lr)  # utils.make_optimizer({'name': 'adam', 'args': {lr}})
    lr_scheduler = MultiStepLR(optimizer, milestones=list(milestones), gamma=gamma)
    loss_fn = nn.L1Loss()
    inp_sub = inp_div = gt_sub = gt_div = 0.5
    losses, lrs = [], []
    model.train()
    for i, (inp, coord, cell, gt) in enumerate(batches):
        inp, gt = _t(to_unit(inp), dtype), _t(to_unit(gt), dtype)  # the wrapper's [0, 1] images
        coord, cell = _t(coord, dtype), _t(cell, dtype)
        lrs.append(optimizer.param_groups[0]["lr"])
        inp = (inp - inp_sub) / inp_div
        pred = model(inp, coord, cell)
        gt = (gt - gt_sub) / gt_div
        loss = loss_fn(pred, gt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append({"pixel": loss.item()})
        if (i + 1) % epoch_len == 0:  # main: lr_scheduler.step() after each epoch's train()
            lr_scheduler.step()
    return _trajectory(losses, lrs, model, init, transpose=transpose)


# ---- IMDN: train_IMDN.py ------------------------------------------------------------------------

def imdn_lr(epoch, step_size=200, lr_init=2e-4, gamma=0.5):
    """``utils.adjust_learning_rate``: the lr of (1-based) ``epoch``."""
    factor = epoch // step_size
    return lr_init * (gamma ** factor)


def imdn_trajectory(model, batches, dtype=torch.float32, lr=2e-4, step_size=200, gamma=0.5, epoch_len=1000):
    model = model.to(dtype)
    init = torch_state_to_numpy(model)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    l1_criterion = nn.L1Loss()
    losses, lrs = [], []
    model.train()
    for i, (lr_np, hr_np) in enumerate(batches):
        epoch = i // epoch_len + 1
        if i % epoch_len == 0:  # train(epoch): adjust_learning_rate first
            for param_group in optimizer.param_groups:
                param_group["lr"] = imdn_lr(epoch, step_size, lr, gamma)
        lr_tensor, hr_tensor = _t(to_unit(lr_np), dtype), _t(to_unit(hr_np), dtype)  # "ranges from [0, 1]"
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.zero_grad()
        sr_tensor = model(lr_tensor)
        loss_l1 = l1_criterion(sr_tensor, hr_tensor)
        loss_sr = loss_l1
        loss_sr.backward()
        optimizer.step()
        losses.append({"pixel": loss_l1.item()})
    return _trajectory(losses, lrs, model, init)


# ---- CARN / CARN-M: carn/solver.py ----------------------------------------------------------------

def carn_lr(step, lr=1e-4, decay=400000):
    """``Solver.decay_learning_rate`` at step count ``step`` (0-based, before the increment): the lr of
    the NEXT batch; the first batch runs at ``cfg.lr``."""
    return lr * (0.5 ** (step // decay))


def carn_trajectory(model, batches, scale, dtype=torch.float32, lr=1e-4, decay=400000, clip=10.0, key_map=None):
    """``Solver.fit`` for a single-scale model (``cfg.scale > 0``); ``key_map`` renames the official
    single-scale ``upsample.up.*`` onto the suite's ``upsample.up{scale}.*`` (with the other branches)."""
    model = model.to(dtype)
    init = torch_state_to_numpy(model)
    optim_ = optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr)
    loss_fn = nn.L1Loss()
    step = 0
    losses, lrs = [], []
    for lr_np, hr_np in batches:
        model.train()
        hr, lr_t = _t(to_unit(hr_np), dtype), _t(to_unit(lr_np), dtype)  # ToTensor(): [0, 1]
        lrs.append(optim_.param_groups[0]["lr"])
        sr = model(lr_t, scale)
        loss = loss_fn(sr, hr)
        optim_.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optim_.step()
        learning_rate = carn_lr(step, lr, decay)
        for param_group in optim_.param_groups:
            param_group["lr"] = learning_rate
        step += 1
        losses.append({"pixel": loss.item()})
    return _trajectory(losses, lrs, model, init, key_map=key_map)


# ---- VDSR: twtygqyy/pytorch-vdsr main_vdsr.py -------------------------------------------------------

def vdsr_lr(epoch, lr=0.1, step=10):
    """``train``: ``adjust_learning_rate(optimizer, epoch - 1)`` = ``opt.lr * 0.1 ** ((epoch - 1) // opt.step)``."""
    return lr * (0.1 ** ((epoch - 1) // step))


def vdsr_inputs(lr_np, hr_np, scale):
    """What ``generate_train.m`` stores: the MATLAB bicubic-upsampled Y of the LR and the HR Y, [0, 1]
    (``rgb2ycbcr`` of ``im2double`` images; MATLAB ``imresize``)."""
    from paddle_sr.image.imresize import imresize

    m = np.array([65.481, 128.553, 24.966]) / 255.0

    def y(x):  # rgb2ycbcr's Y on [0, 1], N x 1 x H x W
        return (16.0 / 255.0 + np.einsum("c,nchw->nhw", m, to_unit(x)))[:, None]

    y_lr, y_hr = y(lr_np), y(hr_np)
    up = np.stack([imresize(img[0], scale=scale)[None] for img in y_lr])
    return up, y_hr


def vdsr_trajectory(model, batches, scale, dtype=torch.float32, lr=0.1, step=10, momentum=0.9, weight_decay=1e-4,
                    clip=0.4, epoch_len=1000):
    model = model.to(dtype)
    init = torch_state_to_numpy(model)
    criterion = nn.MSELoss(reduction="sum")  # size_average=False
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    losses, lrs = [], []
    model.train()
    for i, (lr_np, hr_np) in enumerate(batches):
        if i % epoch_len == 0:  # train(..., epoch): the lr of the epoch
            for param_group in optimizer.param_groups:
                param_group["lr"] = vdsr_lr(i // epoch_len + 1, lr, step)
        inp, target = (_t(a, dtype) for a in vdsr_inputs(lr_np, hr_np, scale))
        lrs.append(optimizer.param_groups[0]["lr"])
        loss = criterion(model(inp), target)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        losses.append({"pixel": loss.item()})
    return _trajectory(losses, lrs, model, init)


# ---- LapSRN: phoenix104104/LapSRN vllab_cnn_train_dag.m ------------------------------------------------

def learning_rate_policy(init_lr, step, drop, min_lr, num_epochs):
    """``learning_rate_policy.m``: the lr of every epoch (1-based index ``lr_all[epoch - 1]``)."""
    if drop == 0:
        lr_all = [init_lr] * num_epochs
    else:
        num_drop = round(num_epochs / step) - 1
        lr_all = [init_lr * drop ** k for k in range(num_drop + 1) for _ in range(step)]
    return [max(v, min_lr) for v in lr_all]


def _y(x):  # rgb2ycbcr's Y of suite RGB on [-1, 1], on [0, 1]
    m = np.array([65.481, 128.553, 24.966]) / 255.0
    return (16.0 / 255.0 + np.einsum("c,nchw->nhw", m, to_unit(x)))[:, None]


def lapsrn_trajectory(model, batches, dtype=torch.float32, lr_all=(1e-5,), momentum=0.9, weight_decay=1e-4,
                      epoch_len=100):
    """cnn_train_dag's processEpoch / accumulateGradients on the suite's (lr, hr): LR = Y of the suite's LR,
    level targets = MATLAB ``imresize`` of the HR Y by 1/2^k (getBatch_LapSRN.m)."""
    from paddle_sr.image.imresize import imresize

    model = model.to(dtype)
    init = torch_state_to_numpy(model)
    params = [(n, p, 0.1 if n.endswith("bias") else 1.0) for n, p in model.named_parameters()]
    state = {n: torch.zeros_like(p) for n, p, _ in params}  # "initialize with momentum 0"
    losses, lrs = [], []
    for i, (lr_np, hr_np) in enumerate(batches):
        learning_rate = lr_all[min(i // epoch_len + 1, len(lr_all)) - 1]  # opts.learningRate(min(epoch, numel))
        y_lr, y_hr = _y(lr_np), _y(hr_np)
        batch_size = y_hr.shape[0]
        for p in model.parameters():
            p.grad = None
        outs = model(_t(y_lr, dtype))
        total = 0
        for out in outs:  # derOutputs: every level's loss with weight 1
            factor = out.shape[-1] / y_hr.shape[-1]
            target = y_hr if factor == 1 else np.stack([imresize(h[0], factor)[None] for h in y_hr])
            d = out - _t(target, dtype)
            total = total + torch.sqrt(d ** 2 + 1e-6).sum()  # vllab_nn_L1_loss
        total.backward()
        lrs.append(learning_rate)
        with torch.no_grad():
            for n, p, mult in params:
                this_decay, this_lr = weight_decay * 1.0, learning_rate * mult
                par_der = p.grad / batch_size + this_decay * p
                state[n] = momentum * state[n] - par_der
                p += this_lr * state[n]
        losses.append({"pixel": total.item() / batch_size})  # the objective per sample, as cnn_train reports it
    return _trajectory(losses, lrs, model, init)

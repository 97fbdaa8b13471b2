"""python -m paddle_sr.train RECIPE [--key=value ...] — one iteration-based training loop for every recipe.

Recipes and options: ``paddle_sr/configs.py`` (``--help`` lists them). A run lives in
``output/<run>/``:

- ``config.json``: the resolved recipe;
- ``Model.pdparams`` (latest) and ``Best.pdparams`` (best validation PSNR on the first validation
  set): weights only, ``model.set_state_dict(paddle.load(path))``; with ``--ema`` they hold the EMA
  weights (the raw ones are in the state file);
- ``state.pdstate``: everything else needed to continue — raw weights, optimizer with its LR
  scheduler, iteration, best score, RNG states (Paddle, numpy, Python), discriminator and its
  optimizer (GANs), the joint SRResNet (SRGAN notebook preset), EMA weights, AMP loss scale;
- ``vdl/``: VisualDL logs (``visualdl --logdir output``): losses, lr, validation PSNR/SSIM per set
  (with bicubic for reference) and sample SR images.

Every file is written with ``checkpoint.atomic_save`` (temporary file, then rename), so a killed run
never leaves a torn file. Rerunning the same command resumes from ``state.pdstate``; the batches
are a pure function of (seed, iteration) (``paddle_sr.data``), so an interrupted and resumed run ends
with the same weights as an uninterrupted one (bit for bit on CPU). A run folder holding another
model or scale is never touched: pick another ``--run``.

Losses: the recipe's pixel loss (optionally on Y only, optionally Caffe/MatConvNet-summed), plus
perceptual / adversarial / contrastive terms. A model with several supervised outputs exposes them
and gets them supervised through one hook (``supervision``): ``forward_levels`` (LapSRN: each pyramid
level against the MATLAB-bicubic downscaled HR) or ``forward_all`` (DRCN: recursive supervision with
alpha going from 1 to 0 over ``recursive_alpha_iters``).

Validation: every ``val_every`` iterations and at the end, PSNR/SSIM on Y with ``scale`` border pixels
ignored, SR clipped and rounded to uint8, LR by MATLAB bicubic (``paddle_sr.metrics``).

Multi-GPU (data parallel, one process per GPU; each rank takes a disjoint slice of every batch so the
global batch stays ``batch_size``; only rank 0 validates and writes). Paddle's launcher starts a
script file, not ``-m module``, so name this file:
    python -m paddle.distributed.launch --gpus 0,1 paddle_sr/train.py rdn --batch_size=16
"""
import base64
import dataclasses
import json
import math
import os
import pickle
import random
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import paddle

if __name__ == "__main__" and not __package__:
    # Run as a file, as paddle.distributed.launch does (it cannot launch ``-m module``): make the
    # relative imports below resolve against the package (PEP 366).
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "paddle_sr"

from . import configs, losses, models  # noqa: E402
from .checkpoint import atomic_save, atomic_write, check_state_dict, check_writable, read_state_dict  # noqa: E402
from .errors import SRError, cli_main  # noqa: E402
from .models.esrgan import VGGStyleDiscriminator  # noqa: E402
from .models.srresnet import SRGANDiscriminator  # noqa: E402

STATE = "state.pdstate"
# A run folder with other values of these keys holds a different model: never resume into it.
IDENTITY_KEYS = ("model", "model_kwargs", "scale")


# ------------------------------------------------------------------------------------------------
# Set-up helpers
# ------------------------------------------------------------------------------------------------

def pick_device(name):
    """'auto' -> GPU when Paddle is built with CUDA and sees one, else CPU (``engine.use_device``); under the
    distributed launcher each rank takes its own GPU. Sets and returns the device."""
    from .engine import use_device

    if name != "cpu" and paddle.distributed.get_world_size() > 1 and paddle.is_compiled_with_cuda():
        name = f"gpu:{paddle.distributed.ParallelEnv().dev_id}"
    return use_device(name)


def build_model(cfg):
    try:
        return models.create(cfg.model, scale=cfg.scale, **cfg.model_kwargs)
    except TypeError as e:
        raise SRError(f"--model_kwargs {cfg.model_kwargs} do not fit model {cfg.model!r}: {e}") from None


def init_weights(model, cfg):
    """Load ``init_from`` (warm start / x2 -> x4); ``init_partial`` skips keys whose shape differs."""
    if not os.path.isfile(cfg.init_from):
        hint = (" — train the previous stage first (same command with --stage=%d)" % (cfg.stage - 1)
                if cfg.stage > 1 else " — train that model first, or pass --init_from='' to start from scratch")
        raise SRError(f"--init_from={cfg.init_from} does not exist{hint}")
    state = read_state_dict(cfg.init_from)
    if cfg.init_partial:
        own = model.state_dict()
        keep = {k: v for k, v in state.items() if k in own and list(v.shape) == list(own[k].shape)}
        skipped = sorted(set(own) - set(keep) - {"value_range"})
        print(f"init from {cfg.init_from}: {len(keep)} tensors loaded, {len(skipped)} kept random"
              + (f" ({', '.join(skipped[:4])}{' ...' if len(skipped) > 4 else ''})" if skipped else ""))
        state = keep
    else:
        check_state_dict(model, state, source=f"--init_from={cfg.init_from}")
        print(f"init from {cfg.init_from}")
    model.set_state_dict(state)


def make_schedule(cfg, lr):
    """The step schedule, stepped every iteration (its state travels in the optimizer's): MultiStepDecay,
    or with ``lr_min`` the same steps floored at it (PiecewiseDecay); None without milestones."""
    if not cfg.milestones:
        return None
    if cfg.lr_min > 0:
        values = [max(lr * cfg.gamma ** k, cfg.lr_min) for k in range(len(cfg.milestones) + 1)]
        return paddle.optimizer.lr.PiecewiseDecay(list(cfg.milestones), values)
    return paddle.optimizer.lr.MultiStepDecay(lr, list(cfg.milestones), cfg.gamma)


def make_optimizer(cfg, params, lr):
    """Adam, or SGD with momentum (``optimizer='sgd'``), with ``make_schedule``'s schedule; L2
    ``weight_decay`` added to the gradient (as torch.optim, Caffe and MatConvNet)."""
    sched = make_schedule(cfg, lr)
    clip = paddle.nn.ClipGradByGlobalNorm(cfg.grad_clip) if cfg.grad_clip > 0 else None
    decay = cfg.weight_decay or None
    if cfg.optimizer == "sgd":
        opt = paddle.optimizer.Momentum(learning_rate=sched or lr, momentum=cfg.momentum, parameters=params,
                                        weight_decay=decay, grad_clip=clip)
    else:
        opt = paddle.optimizer.Adam(learning_rate=sched or lr, beta1=cfg.beta1, beta2=cfg.beta2,
                                    epsilon=cfg.adam_eps, parameters=params, weight_decay=decay, grad_clip=clip)
    return opt, sched


def step_schedule(*scheds):
    for sched in scheds:
        if sched is not None:
            sched.step()


def make_dataset(cfg):
    """The training items, built and checked now (every image opens and fits a patch), so missing or bad
    data fails before anything is written; a missing default data set names its download command."""
    from . import data

    if not cfg.data:
        raise SRError(f"recipe {cfg.model!r} has no default data: the paper trained on {cfg.paper_data}, which the "
                      f"suite cannot download. Pass --data=FOLDER (any folder of images), --data=div2k:data/DIV2K "
                      f"(`python data_scripts/div2k.py --root data/DIV2K`), or --data=embedded:train to train on the "
                      f"11 embedded photos as a stand-in (a demo, not a reproduction)")
    try:
        if is_liif(cfg):
            return data.LiifPatchDataset(cfg.data, inp_size=cfg.patch_size, scale_min=cfg.scale_min,
                                         scale_max=cfg.scale_max, sample_q=cfg.sample_q, seed=cfg.seed,
                                         augment=cfg.augment)
        return data.PatchDataset(cfg.data, cfg.scale, cfg.patch_size, seed=cfg.seed, augment=cfg.augment,
                                 lr_source=cfg.lr_data or None)
    except SRError as e:
        kind, _, root = cfg.data.partition(":")
        script = {"div2k": "div2k.py", "celeba": "celeba.py"}.get(kind.lower())
        if script is None or os.path.isdir(os.path.join(root, "DIV2K_train_HR" if kind.lower() == "div2k"
                                                        else "img_align_celeba")):
            raise
        raise SRError(f"{e}. The paper trained on {cfg.paper_data or kind}: get it with `python data_scripts/{script} "
                      f"--root {root}` (or pass --data={kind.lower()}:ROOT for your copy), or pass --data=embedded:train "
                      f"to train on the 11 embedded photos as a stand-in (a demo, not a reproduction)") from None


def describe_data(cfg, dataset):
    """One line: what the run trains on, how much of it an 'epoch' sees, and what the paper used."""
    n = len(dataset.paths)
    per_epoch = configs.EPOCH * cfg.batch_size
    if is_liif(cfg):
        patch = f"LR inputs {cfg.patch_size}x{cfg.patch_size} at x{cfg.scale_min:g}-{cfg.scale_max:g}"
    else:
        patch = (f"LR patches {cfg.patch_size}x{cfg.patch_size} -> HR {cfg.patch_size * cfg.scale}x"
                 f"{cfg.patch_size * cfg.scale}")
    line = (f"data: {cfg.data} ({n} image{'s' * (n != 1)}); {patch}, batch {cfg.batch_size}; "
            f"{configs.EPOCH} iterations = {per_epoch:,} patches ({per_epoch / n:.0f} per image)")
    if cfg.paper_data:
        line += f"; the paper: {cfg.paper_data}"
    return line


def make_batches(cfg, start, rank, world, dataset=None):
    """Endless numpy batches from iteration ``start``: (lr, hr), or (lr, coord, cell, gt) for LIIF."""
    from . import data

    return data.batches(dataset or make_dataset(cfg), cfg.batch_size, start=start, rank=rank, world=world,
                        num_workers=cfg.num_workers)


def is_liif(cfg):
    return models.scales(cfg.model) is None


def supervision(model):
    """Which outputs the pixel loss supervises: 'levels' for a model with ``forward_levels`` (LapSRN:
    every pyramid level against the HR downscaled to its size), 'recursive' for one with
    ``forward_all`` (DRCN: the ensemble and its D intermediate predictions), None for the SR only."""
    for kind, method in (("levels", "forward_levels"), ("recursive", "forward_all")):
        if callable(getattr(model, method, None)):
            return kind
    return None


class AllOutputs(paddle.nn.Layer):
    """A model's training forward with every supervised output, as a layer DataParallel can wrap:
    lr -> [outputs] (pyramid levels, smallest first; or the ensemble followed by the recursions)."""

    def __init__(self, model, kind):
        super().__init__()
        self.model, self.kind = model, kind

    def forward(self, lr):
        if self.kind == "levels":
            return list(self.model.forward_levels(lr))
        sr, preds = self.model.forward_all(lr)
        return [sr] + list(preds)


def final_output(kind, out):
    return out if kind is None else out[-1] if kind == "levels" else out[0]


def supervised_pixel_loss(kind, out, hr, hr_np, pixel_fn, cfg, it):
    """The pixel loss of one training forward ``out`` (see ``supervision``)."""
    if kind == "levels":
        targets = losses.pyramid_targets(hr_np, [o.shape for o in out])
        return losses.multi_level_loss(out, [paddle.to_tensor(t) for t in targets], pixel_fn)
    if kind == "recursive":
        alpha = losses.recursive_alpha(it, cfg.recursive_alpha_iters)
        return losses.recursive_supervision_loss(out[0], out[1:], hr, pixel_fn, alpha)
    return pixel_fn(out, hr)


class UnitRangeVGGStyleDiscriminator(VGGStyleDiscriminator):
    """ESRGAN's discriminator fed as BasicSR feeds it: [0, 1] images (from the suite's [-1, 1])."""

    def forward(self, x):
        return super().forward((x + 1) / 2)


def build_discriminator(cfg):
    """SRGAN's discriminator (logits), or ESRGAN's VGG-style one, for HR patches of patch_size * scale."""
    size = cfg.patch_size * cfg.scale
    if cfg.discriminator == "vgg_style":
        return UnitRangeVGGStyleDiscriminator(input_size=size)
    return SRGANDiscriminator(size, logits=True)


class LiifQuery(paddle.nn.Layer):
    """LIIF's training forward (RGB at sampled HR coordinates) as a layer, so DataParallel can wrap it."""

    def __init__(self, liif):
        super().__init__()
        self.liif = liif

    def forward(self, lr, coord, cell):
        m = self.liif
        return m.from_native(m.query_rgb(m.gen_feat(m.to_native(lr)), coord, cell))


def set_name(spec):
    """A short tag for a validation set: 'embedded:val' -> 'embedded_val', '.../Set5/HR' -> 'Set5'."""
    spec = os.path.normpath(spec)
    base = os.path.basename(spec)
    if base == "HR":
        base = os.path.basename(os.path.dirname(spec))
    return base.replace(":", "_") or "val"


def load_val_sets(cfg):
    from .data import validation_pairs

    return [(set_name(s), validation_pairs(s, cfg.scale, max_size=cfg.val_max_size or None)) for s in cfg.val_data]


def validate(model, val_sets, scale):
    """{set: (mean PSNR, mean SSIM, [(name, SR uint8)])} with the benchmark protocol (Y, crop = scale)."""
    from .data import to_uint8
    from .inference import super_resolve
    from .metrics import psnr, ssim

    out = {}
    for name, pairs in val_sets:
        ps, ss, images = [], [], []
        for img_name, lr, hr in pairs:
            sr = to_uint8(super_resolve(model, lr, scale))
            ps.append(psnr(sr, hr, scale, y_channel=True))
            ss.append(ssim(sr, hr, scale, y_channel=True))
            images.append((img_name, sr))
        out[name] = (float(np.mean(ps)), float(np.mean(ss)), images)
    return out


def bicubic_scores(val_sets, scale):
    from .imresize import imresize
    from .metrics import psnr, ssim

    return {name: (float(np.mean([psnr(imresize(lr, scale), hr, scale) for _, lr, hr in pairs])),
                   float(np.mean([ssim(imresize(lr, scale), hr, scale) for _, lr, hr in pairs])))
            for name, pairs in val_sets}


# ------------------------------------------------------------------------------------------------
# State file: optimizer keys are Paddle's global parameter names (``conv2d_7.w_0``), which depend on
# how many layers the process built before; they are stored under the structured names instead.
# ------------------------------------------------------------------------------------------------

def opt_to_file(opt, layer):
    table = sorted(((p.name + "_", "@" + n + "_") for n, p in layer.named_parameters()), key=lambda t: -len(t[0]))
    out = {}
    for key, value in opt.state_dict().items():
        for own, stored in table:
            if key.startswith(own):
                key = stored + key[len(own):]
                break
        out[key] = value
    return out


def opt_from_file(opt, layer, state):
    table = sorted((("@" + n + "_", p.name + "_") for n, p in layer.named_parameters()), key=lambda t: -len(t[0]))
    out = {}
    for key, value in state.items():
        for stored, own in table:
            if key.startswith(stored):
                key = own + key[len(stored):]
                break
        out[key] = value
    opt.set_state_dict(out)


def backward_step(loss, opt, scaler):
    """clear, backward, step — through the AMP loss scaler when there is one (update() once per iteration)."""
    opt.clear_grad()
    if scaler is None:
        loss.backward()
        opt.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(opt)


def _pack(obj):
    return base64.b64encode(pickle.dumps(obj)).decode("ascii")


def _unpack(text):
    return pickle.loads(base64.b64decode(text))


def rng_state():
    return _pack({"paddle": paddle.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()})


def set_rng_state(text):
    s = _unpack(text)
    paddle.set_rng_state(s["paddle"])
    np.random.set_state(s["numpy"])
    random.setstate(s["python"])


# ------------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------------

def open_run(cfg):
    """Run folder path and the saved state to resume from (None for a fresh run); refuses a foreign run."""
    run_dir = os.path.join(cfg.output, cfg.run)
    state_path = os.path.join(run_dir, STATE)
    if os.path.isfile(state_path):
        try:
            state = paddle.load(state_path)
        except Exception as e:  # a torn state cannot happen with atomic_save, but a foreign file can
            raise SRError(f"cannot read {state_path} ({e}); move it away or pick another --run") from None
        saved = state["config"]
        diff = [k for k in IDENTITY_KEYS if saved.get(k) != getattr(cfg, k)]
        if diff:
            what = ", ".join(f"{k}={saved.get(k)!r}" for k in diff)
            raise SRError(f"{run_dir} holds another run ({what}); it is left untouched. Pick a new folder with "
                          f"--run=NAME, or rerun with the settings of that run to resume it")
        now = dataclasses.asdict(cfg)
        changed = [k for k in now if k in saved and k not in ("stop_after", "max_minutes", "progress")
                   and json.dumps(saved[k], sort_keys=True) != json.dumps(now[k], sort_keys=True)]
        if changed:
            print(f"resuming {run_dir} with changed options: {', '.join(changed)}")
        return run_dir, state
    for f in ("Model.pdparams", "Best.pdparams"):
        if os.path.exists(os.path.join(run_dir, f)):
            raise SRError(f"{run_dir} holds {f} but no {STATE}; it is not a run this tool can resume and it is "
                          f"left untouched. Pick another folder with --run=NAME")
    return run_dir, None


class StopSignals:
    """SIGINT / SIGTERM during the loop -> ``received``; the loop saves at the end of the iteration and stops.

    A second signal raises KeyboardInterrupt at once (the last checkpoint stays as it is). Only the main
    thread can own signal handlers: elsewhere (a worker thread) nothing is installed.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.received, self.previous = None, {}

    def install(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}

    def restore(self):
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        self.previous = {}

    def name(self):
        return signal.Signals(self.received).name

    def _handle(self, signum, frame):
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signum
        print(f"\n{signal.Signals(signum).name}: saving a checkpoint at the end of this iteration "
              f"(send it again to stop at once, losing the work since the last checkpoint)", file=sys.stderr, flush=True)


def repair_weights(run_dir, state, eval_model, at_best):
    """Rewrite Model.pdparams (and Best.pdparams when the state's iteration is its best) from the resumed state:
    ``save`` writes the state first, so a crash between files may have left these one checkpoint behind."""
    weights = eval_model.state_dict()
    atomic_save(weights, os.path.join(run_dir, "Model.pdparams"))
    if at_best:
        atomic_save(weights, os.path.join(run_dir, "Best.pdparams"))


def train(cfg):
    """Run (or resume) one training run; returns the exit status (0, or 128 + signal when interrupted)."""
    signals = StopSignals()
    try:
        return _train(cfg, signals)
    finally:
        signals.restore()


def _train(cfg, signals):
    world, rank = paddle.distributed.get_world_size(), paddle.distributed.get_rank()
    device = pick_device(cfg.device)
    if cfg.amp and not device.startswith("gpu"):
        raise SRError("--amp needs a GPU (float16 autocast); drop --amp on CPU")
    if is_liif(cfg) and (cfg.adversarial_weight or cfg.contrastive_weight or cfg.perceptual_weight):
        raise SRError("LIIF trains on sampled pixels: only the pixel loss applies; set the other weights to 0")
    run_dir, state = open_run(cfg)
    main_rank = rank == 0
    dataset = make_dataset(cfg)
    val_sets = load_val_sets(cfg) if main_rank else None
    if main_rank:
        print(describe_data(cfg, dataset))
        if cfg.paper_data and cfg.data.startswith("embedded"):
            print(f"WARNING: {cfg.run} trains on the {len(dataset.paths)} embedded photos, a stand-in for the paper's "
                  f"{cfg.paper_data}: expect a demo, not the paper's numbers")
        print("validation: " + ", ".join(f"{name} ({len(pairs)} images)" for name, pairs in val_sets))
    if world > 1:
        paddle.distributed.init_parallel_env()
    paddle.seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)

    # --- networks, losses, optimizers
    model = build_model(cfg)
    if cfg.init_from and state is None:
        init_weights(model, cfg)
    opt, sched = make_optimizer(cfg, model.parameters(), cfg.lr)
    pixel_fn = losses.make_pixel_loss(cfg.pixel_loss, y_only=cfg.y_loss, reduction=cfg.loss_reduction)
    kind = None if is_liif(cfg) else supervision(model)
    perceptual = contrastive = disc = d_opt = d_sched = ref = ref_opt = ref_sched = ema_model = None
    if cfg.perceptual_weight > 0:
        from .models.vgg import VGG19FeatureExtractor
        vgg = VGG19FeatureExtractor(cfg.perceptual_layer, use_relu=cfg.perceptual_relu,
                                    weights=cfg.vgg_weights or None, allow_random=cfg.allow_random_vgg)
        perceptual = losses.PerceptualLoss(vgg, cfg.perceptual_scale, cfg.perceptual_criterion)
    if cfg.contrastive_weight > 0:
        contrastive = losses.ContrastiveLoss()
    if cfg.adversarial_weight > 0:
        disc = build_discriminator(cfg)
        d_opt, d_sched = make_optimizer(cfg, disc.parameters(), cfg.d_lr)
    if cfg.joint_srresnet:  # the notebook's SRResNet, trained with MSE beside SRGAN from the same init
        ref = build_model(cfg)
        ref.set_state_dict(model.state_dict())
        ref_opt, ref_sched = make_optimizer(cfg, ref.parameters(), cfg.lr)
    if cfg.ema > 0:
        ema_model = build_model(cfg)
        ema_model.set_state_dict(model.state_dict())
        ema_model.eval()
    scaler = paddle.amp.GradScaler(init_loss_scaling=2.0 ** 15) if cfg.amp else None

    # --- resume
    start, best, best_it = 0, -math.inf, 0
    if state is not None:
        model.set_state_dict(state["model"])
        opt_from_file(opt, model, state["optimizer"])
        for name, layer, o in (("discriminator", disc, d_opt), ("srresnet", ref, ref_opt)):
            if layer is not None:
                layer.set_state_dict(state[name])
                opt_from_file(o, layer, state[name + "_optimizer"])
        if ema_model is not None:
            ema_model.set_state_dict(state["ema"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        start, best, best_it = int(state["iteration"]), float(state["best_psnr"]), int(state["best_iteration"])
        print(f"resuming {run_dir} at iteration {start} (best PSNR {best:.3f} dB at {best_it})")
        if main_rank:
            repair_weights(run_dir, state, ema_model if ema_model is not None else model, start == best_it)
    # Under the launcher every trained network goes through DataParallel, which all-reduces its gradients.
    wrap = paddle.DataParallel if world > 1 else (lambda layer: layer)
    train_model = wrap(LiifQuery(model) if is_liif(cfg) else AllOutputs(model, kind) if kind else model)
    train_disc = wrap(disc) if disc is not None else None
    train_ref = wrap(ref) if ref is not None else None
    eval_model = ema_model if ema_model is not None else model

    writer = bicubic = None
    if main_rank:
        check_writable(run_dir, "run folder", folder=True)  # a full or read-only disk fails before training
        atomic_write(os.path.join(run_dir, "config.json"), lambda tmp: Path(tmp).write_text(configs.to_json(cfg)))
        from visualdl import LogWriter
        writer = LogWriter(logdir=os.path.join(run_dir, "vdl"))
        bicubic = bicubic_scores(val_sets, cfg.scale)
    print(f"{cfg.run}: {cfg.model} x{cfg.scale}, {models.count_parameters(model):,} parameters, device {device}, "
          f"{world} process(es), iterations {start}/{cfg.iterations}")

    def save(it, results=None):
        """Validation results -> best score; then the state file, Best.pdparams (when improved) and
        Model.pdparams, in that order (rank 0 only). The state comes first so a crash between the files
        leaves a resumable folder; ``repair_weights`` rewrites the weights from it on resume."""
        nonlocal best, best_it
        if not main_rank:
            return
        improved = False
        if results is not None:
            first = next(iter(results.values()))[0]
            if first > best:
                best, best_it, improved = first, it, True
        st = {"iteration": it, "best_psnr": best, "best_iteration": best_it, "config": dataclasses.asdict(cfg),
              "model": model.state_dict(), "optimizer": opt_to_file(opt, model), "rng": rng_state()}
        for name, layer, o in (("discriminator", disc, d_opt), ("srresnet", ref, ref_opt)):
            if layer is not None:
                st[name], st[name + "_optimizer"] = layer.state_dict(), opt_to_file(o, layer)
        if ema_model is not None:
            st["ema"] = ema_model.state_dict()
        if scaler is not None:
            st["scaler"] = scaler.state_dict()
        try:
            atomic_save(st, os.path.join(run_dir, STATE))
            weights = eval_model.state_dict()
            if improved:
                atomic_save(weights, os.path.join(run_dir, "Best.pdparams"))
            atomic_save(weights, os.path.join(run_dir, "Model.pdparams"))
            if ref is not None:
                atomic_save(ref.state_dict(), os.path.join(run_dir, "SRResNet.pdparams"))
        except OSError as e:
            kept = f"iteration {last_saved}" if last_saved else "none yet"
            raise SRError(f"cannot write the checkpoint of iteration {it} in {run_dir} ({e.strerror or e}); the "
                          f"previous checkpoint ({kept}) is intact. Free disk space or fix the folder's "
                          f"permissions, then rerun the same command to resume") from None

    def run_validation(it):
        results = validate(eval_model, val_sets, cfg.scale)
        for name, (p, s, images) in results.items():
            writer.add_scalar(f"val/{name}/psnr", p, it)
            writer.add_scalar(f"val/{name}/ssim", s, it)
            writer.add_scalar(f"val/{name}/bicubic_psnr", bicubic[name][0], it)
            for img_name, sr in images[:cfg.sample_images]:
                writer.add_image(f"val/{name}/{img_name}", sr, it, dataformats="HWC")
        if ref is not None:
            for name, (p, s, _) in validate(ref, val_sets, cfg.scale).items():
                writer.add_scalar(f"val/{name}/srresnet_psnr", p, it)
        line = "; ".join(f"{n} PSNR {p:.3f} dB SSIM {s:.4f} (bicubic {bicubic[n][0]:.3f} dB)"
                         for n, (p, s, _) in results.items())
        print(f"iteration {it}: {line}")
        return results

    def check_finite(value, what, it):
        if not math.isfinite(value):
            kept = (f"the last good checkpoint (iteration {last_saved}) is kept in {run_dir}" if last_saved
                    else "no checkpoint had been written yet")
            raise SRError(f"{what} became {value} at iteration {it}; training stopped before the update, and "
                          f"{kept}. Lower --lr, set --grad_clip, or check the data")

    # --- the loop; from here a SIGINT/SIGTERM saves at the end of the iteration (``StopSignals``)
    last_saved, last_save_time, exit_code = start or None, time.time(), 0
    signals.install()
    batches = make_batches(cfg, start, rank, world, dataset)
    t0 = time.time()
    stopped_early = False
    bar = None
    if main_rank and cfg.progress:
        from tqdm import tqdm
        bar = tqdm(total=cfg.iterations, initial=start, desc=cfg.run, unit="it", dynamic_ncols=True, mininterval=1.0)
    it = start
    results = None
    for it in range(start + 1, cfg.iterations + 1):
        arrays = next(batches)
        batch = [paddle.to_tensor(x) for x in arrays]
        terms = {}
        with paddle.amp.auto_cast(enable=cfg.amp):
            if is_liif(cfg):
                lr, coord, cell, gt = batch
                terms["pixel"] = cfg.pixel_weight * pixel_fn(train_model(lr, coord, cell), gt)
            else:
                lr, hr = batch
                out = train_model(lr)
                sr = final_output(kind, out)
                if cfg.pixel_weight > 0:
                    terms["pixel"] = cfg.pixel_weight * supervised_pixel_loss(kind, out, hr, arrays[1], pixel_fn,
                                                                              cfg, it)
                if perceptual is not None:
                    terms["perceptual"] = cfg.perceptual_weight * perceptual(sr, hr)
                if contrastive is not None:
                    terms["contrastive"] = cfg.contrastive_weight * contrastive(sr, hr, lr)
                if disc is not None:
                    d_real = train_disc(hr).detach() if cfg.gan_type == "ragan" else None
                    terms["adversarial"] = cfg.adversarial_weight * losses.generator_adversarial_loss(
                        cfg.gan_type, train_disc(sr), d_real)
            loss = sum(terms.values())
        values = {k: float(v) for k, v in terms.items()}
        check_finite(float(loss), "the training loss", it)
        backward_step(loss, opt, scaler)
        if disc is not None:  # discriminator step on the same batch (SRGAN: k = 1)
            with paddle.amp.auto_cast(enable=cfg.amp):
                d_loss = losses.discriminator_loss(cfg.gan_type, train_disc(hr), train_disc(sr.detach()))
            values["discriminator"] = float(d_loss)
            check_finite(values["discriminator"], "the discriminator loss", it)
            backward_step(d_loss, d_opt, scaler)
        if ref is not None:
            ref_loss = losses.mse_loss(train_ref(lr), hr)
            values["srresnet_mse"] = float(ref_loss)
            check_finite(values["srresnet_mse"], "the SRResNet loss", it)
            backward_step(ref_loss, ref_opt, None)
        if scaler is not None:
            scaler.update()
        if ema_model is not None:
            with paddle.no_grad():
                for p_ema, p in zip(ema_model.parameters(), model.parameters()):
                    p_ema.set_value(p_ema * cfg.ema + p * (1.0 - cfg.ema))
        current_lr = opt.get_lr()
        step_schedule(sched, d_sched, ref_sched)

        if main_rank:
            if it % cfg.log_every == 0 or it == start + 1:
                writer.add_scalar("train/loss", float(loss), it)
                for k, v in values.items():
                    writer.add_scalar(f"train/{k}", v, it)
                writer.add_scalar("train/lr", current_lr, it)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{float(loss):.4f}", lr=f"{current_lr:.2e}", refresh=False)
        out_of_time = cfg.max_minutes > 0 and time.time() - t0 > 60 * cfg.max_minutes
        interrupted = signals.received is not None
        if world > 1:  # every rank must stop at the same iteration
            flags = paddle.to_tensor([int(out_of_time), int(interrupted)])
            paddle.distributed.all_reduce(flags, op=paddle.distributed.ReduceOp.MAX)
            out_of_time, interrupted = (bool(int(v)) for v in flags.numpy())
        stop_now = cfg.stop_after > 0 and it - start >= cfg.stop_after
        validate_now = it % cfg.val_every == 0 or it == cfg.iterations or out_of_time
        due = ((cfg.save_every > 0 and it % cfg.save_every == 0)
               or (cfg.save_minutes > 0 and time.time() - last_save_time > 60 * cfg.save_minutes))
        if validate_now or stop_now or interrupted or due:
            if validate_now:
                results = run_validation(it) if main_rank else None
            save(it, results if validate_now else None)
            last_saved, last_save_time = it, time.time()
        if out_of_time or stop_now or interrupted:
            stopped_early = it < cfg.iterations
            if interrupted:  # 130 for SIGINT, 143 for SIGTERM, as a shell reports a killed command
                exit_code = 128 + int(signals.received or signal.SIGINT)
            if main_rank:
                why = (signals.name() if signals.received else "a signal on another rank") if interrupted else \
                    f"--max_minutes={cfg.max_minutes:g}" if out_of_time else f"--stop_after={cfg.stop_after}"
                print(f"\nstopped at iteration {it} ({why}); checkpoint: {os.path.join(run_dir, STATE)} and "
                      f"Model.pdparams (iteration {it}). Rerun the same command to continue", flush=True)
            break
    if bar is not None:
        bar.close()

    if main_rank and exit_code:
        writer.close()
    elif main_rank:
        if start >= cfg.iterations:
            print(f"{run_dir} already finished {cfg.iterations} iterations")
        if results is None and not stopped_early:
            results = run_validation(it)
        if cfg.compare_png and results is not None:
            write_comparison(cfg, run_dir, val_sets)
        if results is not None:
            summary(cfg, run_dir, results, bicubic, best, best_it)
        writer.close()
    return exit_code


def write_comparison(cfg, run_dir, val_sets):
    """show_image of the first validation image: LR / bicubic / SR (Best.pdparams) / HR with PSNR/SSIM."""
    from .checkpoint import load_weights
    from .viz import show_image

    best = load_weights(build_model(cfg), os.path.join(run_dir, "Best.pdparams"))
    _, lr, hr = val_sets[0][1][0]
    path = os.path.join(run_dir, "comparison.png")
    show_image(lr=lr, hr=hr, models={f"{cfg.model} (Best)": best}, scale=cfg.scale, save=path, show=False)
    print(f"comparison figure: {path}")


def summary(cfg, run_dir, results, bicubic, best, best_it):
    print(f"\nvalidation (Y channel, {cfg.scale} border pixels ignored, LR by MATLAB bicubic):")
    for name, (p, s, _) in results.items():
        b = bicubic[name]
        print(f"  {name}: {cfg.model} {p:.3f} dB / SSIM {s:.4f}   bicubic {b[0]:.3f} dB / SSIM {b[1]:.4f}   "
              f"difference {p - b[0]:+.3f} dB")
    print(f"best {best:.3f} dB at iteration {best_it}: {os.path.join(run_dir, 'Best.pdparams')}")
    print(f"logs: visualdl --logdir {os.path.join(run_dir, 'vdl')}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(configs.help_text())
        return 0
    if any(a in ("-h", "--help") for a in argv[1:]):
        print(configs.help_text(argv[0]))
        return 0
    cfg = configs.resolve(argv[0], configs.parse_overrides(argv[1:]))
    return train(cfg)


if __name__ == "__main__":
    sys.exit(cli_main(main))

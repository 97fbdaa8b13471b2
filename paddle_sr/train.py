"""python -m paddle_sr.train RECIPE [--key=value ...] — one iteration-based training loop for every recipe.

Recipes and options: ``paddle_sr/training/recipes.py`` (``--help``; ``RECIPE --help`` shows a recipe's values). A
run lives in ``output/<run>/``: ``config.json`` (the resolved recipe); ``Model.pdparams`` (latest) and
``Best.pdparams`` (best validation PSNR on the first validation set), weights only (the EMA weights with
``--ema``); ``state.pdstate`` (every trained network with its optimizer and LR schedule, iteration, best
score, RNG states, EMA, AMP loss scale; ``paddle_sr.training.run``); ``vdl/`` (VisualDL: losses, lr,
validation PSNR/SSIM per set next to bicubic, sample SR images).

Every file is written atomically, the state file first. Rerunning the same command resumes from it; the
batches are a pure function of (seed, iteration) (``data.batches``), so an interrupted and resumed run
ends with the same weights as an uninterrupted one (bit for bit on CPU). SIGINT / SIGTERM save at the end
of the current iteration; ``save_every`` / ``save_minutes`` save between validations. A run folder
holding another model or scale is never touched: pick another ``--run``. While a training writes a run
folder it holds ``train.lock`` (``checkpoint.RunLock``): a second training of that folder stops with one
line (exit 2); a lock left by a killed training is taken over with a note.

The trained networks are a list of ``Net`` (the generator; SRGAN/ESRGAN's discriminator; the SRGAN
notebook's joint SRResNet), so resume, save and the schedule step are loops. The generator's loss terms
come from ``losses.Objective``; validation scores through ``evaluate.score_sets``, the function behind
``python -m paddle_sr.evaluate`` (same protocol, same gray-file convention: ``val_gray``).

Multi-GPU (data parallel; each rank takes a disjoint slice of every batch, only rank 0 validates and
writes). Paddle's launcher starts a script file, not ``-m module``, so name this file:
    python -m paddle.distributed.launch --gpus 0,1 paddle_sr/train.py rdn --batch_size=16
"""
import dataclasses
import math
import os
import random
import signal
import sys
import time
from pathlib import Path

import numpy as np
import paddle

if __name__ == "__main__" and not __package__:
    # Run as a file, as paddle.distributed.launch does (it cannot launch ``-m module``): make the
    # relative imports below resolve against the package (PEP 366).
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "paddle_sr"

from paddle_sr import data, models  # noqa: E402
from paddle_sr.core.errors import SRError, StopSignals, cli_main  # noqa: E402
from paddle_sr.core.files import atomic_write, check_writable
from paddle_sr.image.io import set_max_pixels  # noqa: E402
from paddle_sr.models.common import set_mean_shift_trainable  # noqa: E402
from paddle_sr.models.esrgan import UnitRangeVGGStyleDiscriminator  # noqa: E402
from paddle_sr.models.srresnet import SRGANDiscriminator  # noqa: E402
from paddle_sr.runtime.scoring import score_sets, validation_sets  # noqa: E402
from paddle_sr.training import losses
from paddle_sr.training import recipes as configs
from paddle_sr.training.data import describe_training_set, training_set
from paddle_sr.training.run import RunLock, open_run, resume, warm_start, write_checkpoint
from paddle_sr.weights.run_folder import BEST, COMPARISON, CONFIG, LAST, LOG_DIR, STATE

# ------------------------------------------------------------------------------------------------
# Set-up: device, networks, optimizers, data
# ------------------------------------------------------------------------------------------------

def pick_device(name):
    """``engine.use_device`` ('auto': a GPU when Paddle sees one); under the launcher each rank its own GPU."""
    from paddle_sr.runtime.device import use_device

    if name != "cpu" and paddle.distributed.get_world_size() > 1 and paddle.is_compiled_with_cuda():
        name = f"gpu:{paddle.distributed.ParallelEnv().dev_id}"
    return use_device(name)


def build_model(cfg):
    try:
        return models.create(cfg.model, scale=cfg.scale, **cfg.model_kwargs)
    except TypeError as e:
        raise SRError(f"--model_kwargs {cfg.model_kwargs} do not fit model {cfg.model!r}: {e}") from None


def build_discriminator(cfg):
    """SRGAN's discriminator (logits), or ESRGAN's VGG-style one, for HR patches of patch_size * scale."""
    size = cfg.patch_size * cfg.scale
    return UnitRangeVGGStyleDiscriminator(input_size=size) if cfg.discriminator == "vgg_style" \
        else SRGANDiscriminator(size, logits=True)


@dataclasses.dataclass
class Net:
    """A trained network: its layer, optimizer, LR schedule (stepped every iteration, stored inside the
    optimizer's state) and the view a training step calls (DataParallel under the launcher)."""
    key: str  # its entry in the state file: 'model' (optimizer under 'optimizer'), 'discriminator', 'srresnet'
    layer: paddle.nn.Layer
    opt: object
    sched: object
    run: object = None

    @property
    def opt_key(self):
        return "optimizer" if self.key == "model" else self.key + "_optimizer"


def make_optimizer(cfg, params, lr):
    """(optimizer, schedule): Adam, or SGD with momentum (``optimizer='sgd'``), L2 ``weight_decay`` added to
    the gradient (as torch.optim, Caffe and MatConvNet); the step schedule is MultiStepDecay, or with
    ``lr_min`` the same steps floored at it (PiecewiseDecay); None (a constant lr) without milestones."""
    sched = None
    if cfg.milestones and cfg.lr_min > 0:
        values = [max(lr * cfg.gamma ** k, cfg.lr_min) for k in range(len(cfg.milestones) + 1)]
        sched = paddle.optimizer.lr.PiecewiseDecay(list(cfg.milestones), values)
    elif cfg.milestones:
        sched = paddle.optimizer.lr.MultiStepDecay(lr, list(cfg.milestones), cfg.gamma)
    common = dict(learning_rate=sched or lr, parameters=params, weight_decay=cfg.weight_decay or None,
                  grad_clip=paddle.nn.ClipGradByGlobalNorm(cfg.grad_clip) if cfg.grad_clip > 0 else None)
    if cfg.optimizer == "sgd":
        return paddle.optimizer.Momentum(momentum=cfg.momentum, **common), sched
    return paddle.optimizer.Adam(beta1=cfg.beta1, beta2=cfg.beta2, epsilon=cfg.adam_eps, **common), sched


def make_net(key, layer, cfg, lr):
    return Net(key, layer, *make_optimizer(cfg, layer.parameters(), lr))


def build_nets(cfg, fresh):
    """([generator, discriminator?, joint SRResNet?], objective, EMA copy or None), built in a fixed order
    so the seed gives every run the same initial weights."""
    model = build_model(cfg)
    if cfg.init_from and fresh:
        warm_start(model, cfg.init_from, cfg.init_partial, cfg.stage)
    if cfg.train_mean_shift and not set_mean_shift_trainable(model, True):
        raise SRError(f"--train_mean_shift=true, but {cfg.model} has no mean-shift layers; drop the option")
    if cfg.bias_lr_mult != 1.0:  # Caffe lr_mult / MatConvNet learningRate of every bias (SRCNN, LapSRN: 0.1)
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.optimize_attr["learning_rate"] = cfg.bias_lr_mult
    nets = [make_net("model", model, cfg, cfg.lr)]
    objective = losses.Objective(cfg, model, liif=is_liif(cfg))
    if cfg.adversarial_weight > 0:
        nets.append(make_net("discriminator", build_discriminator(cfg), cfg, cfg.d_lr))
    if cfg.joint_srresnet:  # the notebook's SRResNet, trained with MSE beside SRGAN from the same init
        ref = build_model(cfg)
        ref.set_state_dict(model.state_dict())
        nets.append(make_net("srresnet", ref, cfg, cfg.lr))
    ema = None
    if cfg.ema > 0:
        ema = build_model(cfg)
        ema.set_state_dict(model.state_dict())
        ema.eval()
    return nets, objective, ema


def is_liif(cfg):
    return models.scales(cfg.model) is None


def make_batches(cfg, start, rank, world, dataset=None):
    """Endless numpy batches from iteration ``start``: (lr, hr), or (lr, coord, cell, gt) for LIIF."""
    return data.batches(dataset or training_set(cfg), cfg.batch_size, start=start, rank=rank, world=world,
                        num_workers=cfg.num_workers)


def validate(model, val_sets, cfg):
    """{set: (PSNR, SSIM, [(name, SR uint8)])}: ``evaluate.score_sets`` (model None: bicubic), the protocol of
    ``python -m paddle_sr.evaluate`` with the recipe's gray-file convention."""
    return score_sets(model, val_sets, cfg.scale, gray=cfg.val_gray)


# ------------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------------

def train(cfg):
    """Run (or resume) one training run; returns the exit status (0, or 128 + signal when interrupted)."""
    signals = StopSignals()
    lock = None
    if paddle.distributed.get_rank() == 0:  # one training per run folder: train.lock, until this returns
        run_dir = os.path.join(cfg.output, cfg.run)
        check_writable(run_dir, "run folder", folder=True)
        lock = RunLock(run_dir)
        lock.acquire()
    try:
        return _train(cfg, signals)
    finally:
        signals.restore()
        if lock is not None:
            lock.release()


def _train(cfg, signals):
    world, rank = paddle.distributed.get_world_size(), paddle.distributed.get_rank()
    main_rank = rank == 0
    device = pick_device(cfg.device)
    check_options(cfg, device)
    run_dir, state = open_run(cfg)
    dataset, val_sets = load_data(cfg, main_rank)
    if world > 1:
        paddle.distributed.init_parallel_env()
    seed_everything(cfg.seed)
    nets, objective, ema = build_nets(cfg, fresh=state is None)
    scaler = paddle.amp.GradScaler(init_loss_scaling=2.0 ** 15) if cfg.amp else None
    start, best, best_it = resume(state, nets, ema, scaler, run_dir, main_rank) if state else (0, -math.inf, 0)
    wrap_nets(nets, objective, world)
    book = Bookkeeping(cfg, run_dir, nets, ema, scaler, val_sets, start, best, best_it, main_rank)
    print(f"{cfg.run}: {cfg.model} x{cfg.scale}, {models.count_parameters(nets[0].layer):,} parameters, "
          f"device {device}, {world} process(es), iterations {start}/{cfg.iterations}")

    # --- the loop; from here a SIGINT/SIGTERM saves at the end of the iteration
    batches = make_batches(cfg, start, rank, world, dataset)
    t0 = book.last_save_time = time.time()
    exit_code, stopped_early, results, it = 0, False, None, start
    bar = progress_bar(cfg, start) if main_rank else None
    signals.install()
    for it in range(start + 1, cfg.iterations + 1):
        values, loss, current_lr = train_step(nets, objective, ema, scaler, cfg, next(batches), it, book.last_saved,
                                              run_dir)
        if main_rank:
            log_step(book.writer, bar, it, start, cfg, loss, values, current_lr)
        out_of_time, interrupted = stop_flags(cfg, t0, signals, world)
        stop_now = cfg.stop_after > 0 and it - start >= cfg.stop_after
        validate_now = it % cfg.val_every == 0 or it == cfg.iterations or out_of_time
        if validate_now or stop_now or interrupted or book.save_due(it):
            if validate_now:
                results = book.validate(it) if main_rank else None
            book.save(it, results if validate_now else None)
        if out_of_time or stop_now or interrupted:
            stopped_early = it < cfg.iterations
            exit_code = 128 + int(signals.received or signal.SIGINT) if interrupted else 0
            if main_rank:
                print(stop_message(cfg, run_dir, it, signals, interrupted, out_of_time), flush=True)
            break
    if bar is not None:
        bar.close()
    if main_rank and not exit_code:
        book.finish(it, start, results, stopped_early)
    book.close()
    return exit_code


# ------------------------------------------------------------------------------------------------
# The loop's helpers: set-up, bookkeeping (VisualDL, validation, checkpoints), stopping
# ------------------------------------------------------------------------------------------------

def check_options(cfg, device):
    """Option combinations that cannot train, refused before the run folder is opened."""
    if cfg.amp and not device.startswith("gpu"):
        raise SRError("--amp needs a GPU (float16 autocast); drop --amp on CPU")
    if is_liif(cfg) and (cfg.adversarial_weight or cfg.contrastive_weight or cfg.perceptual_weight):
        raise SRError("LIIF trains on sampled pixels: only the pixel loss applies; set the other weights to 0")


def load_data(cfg, main_rank):
    """(training set, validation sets or None off rank 0); rank 0 prints what it trains and validates on."""
    dataset = training_set(cfg)
    val_sets = validation_sets(cfg.val_data, cfg.scale, cfg.val_max_size) if main_rank else None
    if main_rank:
        print(describe_training_set(cfg, dataset))
        print("validation: " + ", ".join(f"{name} ({len(pairs)} images)" for name, pairs in val_sets))
    return dataset, val_sets


def seed_everything(seed):
    paddle.seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def wrap_nets(nets, objective, world):
    """Set each net's training view: the objective's forward for the generator, DataParallel (all-reduced
    gradients) under the launcher."""
    wrap = paddle.DataParallel if world > 1 else (lambda layer: layer)
    for net in nets:
        net.run = wrap(objective.forward_layer(net.layer) if net.key == "model" else net.layer)


def progress_bar(cfg, start):
    """A tqdm bar over the iterations with ``--progress``, else None."""
    if not cfg.progress:
        return None
    from tqdm import tqdm
    return tqdm(total=cfg.iterations, initial=start, desc=cfg.run, unit="it", dynamic_ncols=True, mininterval=1.0)


def stop_flags(cfg, t0, signals, world):
    """(out of --max_minutes, a stop signal received), agreed by every rank so that all stop together."""
    out_of_time = cfg.max_minutes > 0 and time.time() - t0 > 60 * cfg.max_minutes
    interrupted = signals.received is not None
    if world > 1:  # every rank must stop at the same iteration
        flags = paddle.to_tensor([int(out_of_time), int(interrupted)])
        paddle.distributed.all_reduce(flags, op=paddle.distributed.ReduceOp.MAX)
        out_of_time, interrupted = (bool(int(v)) for v in flags.numpy())
    return out_of_time, interrupted


def stop_message(cfg, run_dir, it, signals, interrupted, out_of_time):
    why = ((signal.Signals(signals.received).name if signals.received else "a signal on another rank")
           if interrupted else f"--max_minutes={cfg.max_minutes:g}" if out_of_time
           else f"--stop_after={cfg.stop_after}")
    return (f"\nstopped at iteration {it} ({why}); checkpoint: {os.path.join(run_dir, STATE)} and "
            f"{LAST} (iteration {it}). Rerun the same command to continue")


class Bookkeeping:
    """The run's records around the loop: best score, checkpoints (every rank tracks them, rank 0 writes),
    and on rank 0 config.json, the VisualDL writer and the validation scores next to bicubic's."""

    def __init__(self, cfg, run_dir, nets, ema, scaler, val_sets, start, best, best_it, main_rank):
        self.cfg, self.run_dir, self.nets, self.ema, self.scaler = cfg, run_dir, nets, ema, scaler
        self.val_sets, self.best, self.best_it, self.main_rank = val_sets, best, best_it, main_rank
        self.last_saved, self.last_save_time = start or None, time.time()
        self.writer = self.bicubic = None
        if main_rank:
            check_writable(run_dir, "run folder", folder=True)  # a full or read-only disk fails before training
            atomic_write(os.path.join(run_dir, CONFIG), lambda tmp: Path(tmp).write_text(configs.to_json(cfg)))
            from visualdl import LogWriter
            self.writer = LogWriter(logdir=os.path.join(run_dir, LOG_DIR))
            self.bicubic = validate(None, val_sets, cfg)

    def save_due(self, it):
        """``save_every`` / ``save_minutes`` ask for a checkpoint between validations."""
        cfg = self.cfg
        return ((cfg.save_every > 0 and it % cfg.save_every == 0)
                or (cfg.save_minutes > 0 and time.time() - self.last_save_time > 60 * cfg.save_minutes))

    def save(self, it, results=None):
        """Checkpoint at ``it``; ``results`` (validation) better than the best also writes Best.pdparams."""
        improved = results is not None and next(iter(results.values()))[0] > self.best
        if improved:
            self.best, self.best_it = next(iter(results.values()))[0], it
        if self.main_rank:
            progress = dict(iteration=it, best_psnr=self.best, best_iteration=self.best_it,
                            config=dataclasses.asdict(self.cfg))
            write_checkpoint(self.run_dir, progress, self.nets, self.ema, self.scaler, improved, self.last_saved)
        self.last_saved, self.last_save_time = it, time.time()

    def validate(self, it):
        """Score the evaluated model (the EMA copy with ``--ema``), log it to VisualDL, print one line."""
        cfg, writer, bicubic = self.cfg, self.writer, self.bicubic
        results = validate(self.ema or self.nets[0].layer, self.val_sets, cfg)
        for name, (p, s, images) in results.items():
            writer.add_scalar(f"val/{name}/psnr", p, it)
            writer.add_scalar(f"val/{name}/ssim", s, it)
            writer.add_scalar(f"val/{name}/bicubic_psnr", bicubic[name][0], it)
            for img_name, sr in images[:cfg.sample_images]:
                writer.add_image(f"val/{name}/{img_name}", sr, it, dataformats="HWC")
        for net in self.nets[1:]:
            if net.key == "srresnet":
                for name, (p, _, _) in validate(net.layer, self.val_sets, cfg).items():
                    writer.add_scalar(f"val/{name}/srresnet_psnr", p, it)
        print(f"iteration {it}: " + "; ".join(f"{n} PSNR {p:.3f} dB SSIM {s:.4f} (bicubic {bicubic[n][0]:.3f} dB)"
                                              for n, (p, s, _) in results.items()))
        return results

    def finish(self, it, start, results, stopped_early):
        """Rank 0 after a run that ran to its end: the last validation if none was made, the comparison
        figure, the summary."""
        cfg, run_dir = self.cfg, self.run_dir
        if start >= cfg.iterations:
            print(f"{run_dir} already finished {cfg.iterations} iterations")
        if results is None and not stopped_early:
            results = self.validate(it)
        if cfg.compare_png and results is not None:
            write_comparison(cfg, run_dir, self.val_sets)
        if results is not None:
            summary(cfg, run_dir, results, self.bicubic, self.best, self.best_it)

    def close(self):
        if self.writer is not None:
            self.writer.close()


def train_step(nets, objective, ema, scaler, cfg, arrays, it, last_saved, run_dir):
    """One iteration: the generator's step, then the discriminator's on the same batch (SRGAN: k = 1), then
    the joint SRResNet's; the EMA update; every LR schedule stepped. Returns ({term: value}, total generator
    loss, the generator's lr of this step). The step-parity tests (tests/step_parity.py) run this same
    function against the authors' re-typed training steps."""
    batch = [paddle.to_tensor(x) for x in arrays]
    gen, others = nets[0], {net.key: net for net in nets[1:]}
    disc = others.get("discriminator")
    with paddle.amp.auto_cast(enable=cfg.amp):
        if is_liif(cfg):
            lr, coord, cell, gt = batch
            sr = out = gen.run(lr, coord, cell)
            terms = objective.terms(out, lr, gt, arrays[3], it)
        else:
            lr, hr = batch
            out = gen.run(lr)
            sr = objective.sr(out)
            terms = objective.terms(out, lr, hr, arrays[1], it, disc.run if disc else None)
        loss = sum(terms.values())
    values = {k: float(v) for k, v in terms.items()}

    def check_finite(value, what):
        if not math.isfinite(value):
            kept = (f"the last good checkpoint (iteration {last_saved}) is kept in {run_dir}" if last_saved
                    else "no checkpoint had been written yet")
            raise SRError(f"{what} became {value} at iteration {it}; training stopped before the update, and "
                          f"{kept}. Lower --lr, set --grad_clip, or check the data")

    def step(net, value, use_scaler=True):
        net.opt.clear_grad()
        if scaler is None or not use_scaler:
            value.backward()
            net.opt.step()
        else:
            scaler.scale(value).backward()
            scaler.step(net.opt)

    check_finite(float(loss), "the training loss")
    step(gen, loss)
    if disc is not None:
        with paddle.amp.auto_cast(enable=cfg.amp):
            d_loss = losses.discriminator_step_loss(cfg.gan_type, disc.run, batch[1], sr.detach())
        values["discriminator"] = float(d_loss)
        check_finite(values["discriminator"], "the discriminator loss")
        step(disc, d_loss)
    if "srresnet" in others:
        ref_loss = losses.mse_loss(others["srresnet"].run(batch[0]), batch[1])
        values["srresnet_mse"] = float(ref_loss)
        check_finite(values["srresnet_mse"], "the SRResNet loss")
        step(others["srresnet"], ref_loss, use_scaler=False)
    if scaler is not None:
        scaler.update()
    if ema is not None:
        with paddle.no_grad():
            for p_ema, p in zip(ema.parameters(), gen.layer.parameters()):
                p_ema.set_value(p_ema * cfg.ema + p * (1.0 - cfg.ema))
    current_lr = gen.opt.get_lr()
    for net in nets:
        if net.sched is not None:
            net.sched.step()
    return values, loss, current_lr


def log_step(writer, bar, it, start, cfg, loss, values, current_lr):
    if it % cfg.log_every == 0 or it == start + 1:
        writer.add_scalar("train/loss", float(loss), it)
        for k, v in values.items():
            writer.add_scalar(f"train/{k}", v, it)
        writer.add_scalar("train/lr", current_lr, it)
    if bar is not None:
        bar.update(1)
        bar.set_postfix(loss=f"{float(loss):.4f}", lr=f"{current_lr:.2e}", refresh=False)


def write_comparison(cfg, run_dir, val_sets):
    """show_image of the first validation image: LR / bicubic / SR (Best.pdparams) / HR with PSNR/SSIM."""
    from paddle_sr.apps.viz import show_image
    from paddle_sr.models.resolve import model_for_weights

    best = model_for_weights(cfg.model, cfg.scale, os.path.join(run_dir, BEST), config=dataclasses.asdict(cfg))
    _, lr, hr, gray_file = val_sets[0][1][0]
    path = os.path.join(run_dir, COMPARISON)
    # the run's own figure, redrawn by every run that ends (a resumed or extended run replaces it)
    show_image(lr=lr, hr=hr, models={f"{cfg.model} (Best)": best}, scale=cfg.scale, save=path, show=False,
               gray=cfg.val_gray if gray_file else None, force=True)
    print(f"comparison figure: {path}")


def summary(cfg, run_dir, results, bicubic, best, best_it):
    print(f"\nvalidation (Y channel, {cfg.scale} border pixels ignored, LR by MATLAB bicubic, gray files: "
          f"{cfg.val_gray}):")
    for name, (p, s, _) in results.items():
        b = bicubic[name]
        print(f"  {name}: {cfg.model} {p:.3f} dB / SSIM {s:.4f}   bicubic {b[0]:.3f} dB / SSIM {b[1]:.4f}   "
              f"difference {p - b[0]:+.3f} dB")
    print(f"best {best:.3f} dB at iteration {best_it}: {os.path.join(run_dir, BEST)}")
    print(f"logs: visualdl --logdir {os.path.join(run_dir, LOG_DIR)}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(configs.help_text())
        return 0
    if any(a in ("-h", "--help") for a in argv[1:]):
        print(configs.help_text(argv[0]))
        return 0
    rest = []
    for a in argv[1:]:
        key, _, value = a.partition("=")
        if key in ("--max_pixels", "--max-pixels"):
            try:
                set_max_pixels(int(value))
            except ValueError:
                raise SRError(f"--max_pixels takes a number of pixels, got {value!r} (e.g. --max_pixels=400000000)") \
                    from None
        else:
            rest.append(a)
    return train(configs.resolve(argv[0], configs.parse_overrides(rest)))


if __name__ == "__main__":
    sys.exit(cli_main(main))

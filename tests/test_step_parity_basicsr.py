"""Step parity of the SRResNet / SRGAN / ESRGAN / SwinIR recipes with BasicSR's and KAIR's training steps
(``tests/step_parity.py``; the re-typed steps are in ``tests/reference/basicsr_train_torch.py``).

Each test runs 20 steps of a reduced network (``tests/tiny.py``) with the recipe's optimiser, losses, loss
range, EMA and schedule (milestones compressed into the 20 steps), from the same weights on the same batches
as the reference in float32 and float64. Reduced for CPU time, on both sides alike: the VGG19 of the
perceptual loss keeps its 16 convolutions, pooling, layer choice and ImageNet input normalisation but is
narrow (``VGG_CHANNELS``) with fixed random weights, given to both sides through ``vgg_weights``; the
discriminators are the recipe's classes, narrow (``num_feat`` / ``channels``). SwinIR's stochastic depth
(drop_path_rate 0.1 in KAIR's network) draws random numbers that two frameworks cannot share, so both sides
run with it off.

BatchNorm's running variance is left out of the weight comparison: Paddle updates it with the biased batch
variance, PyTorch with the unbiased one (a framework difference that does not touch a training step, which
normalises with the batch statistics); the running means are compared.

The "teeth" tests re-introduce what the suite did before (loss on [-1, 1] instead of the official [0, 1];
ESRGAN's discriminator step without BasicSR's detached means; SRGAN's discriminator loss halved; SwinIR's
schedule stepped after the update) and check that the run leaves the official trajectory.
"""
import functools
from dataclasses import replace

import numpy as np
import paddle
import pytest
import torch

from paddle_sr.training import recipes as configs, losses
from paddle_sr import train
from paddle_sr.models import vgg as vgg_mod
from tests.reference import basicsr_train_torch as bt
from tests.reference import esrgan_wdsr_lapsrn_torch as esr
from tests.reference import swinir_san_torch as swr
from tests.step_parity import (FACTOR, FLOOR, Trajectory, assert_step_parity, fixed_batches, step_parity,
                               suite_lr, suite_trajectory, weights_gap)
from tests.tiny import TINY

# VGG19's five blocks, narrow: the perceptual loss on 128x128 patches in seconds. Narrower (4, 8, 8, 8, 8) random
# weights let conv5_4 collapse to near-zero features, and the reference's own float32 run then drifts by 10-20 %
# of the update (measured): no tolerance left to test anything.
VGG_CHANNELS = (16, 16, 32, 32, 32)
D_WIDTH = 4


def strip_variance(t):
    """A Trajectory without BatchNorm running variances (see the module docstring)."""
    def s(state):
        return {k: v for k, v in state.items() if not k.endswith("_variance")}
    return Trajectory(t.losses, t.lrs, s(t.weights), s(t.init), {k: s(v) for k, v in t.others.items()},
                      {k: s(v) for k, v in t.others_init.items()})


@pytest.fixture(scope="module")
def narrow(tmp_path_factory):
    """Narrow VGG19 (random, fixed, saved as a PaddleClas-layout file) and narrow discriminators, patched into
    the suite for this module; yields the VGG file's path and its numpy state."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(vgg_mod, "CHANNELS", VGG_CHANNELS)
        mp.setattr(train, "UnitRangeVGGStyleDiscriminator",
                   functools.partial(train.UnitRangeVGGStyleDiscriminator, num_feat=D_WIDTH))
        mp.setattr(train, "SRGANDiscriminator", functools.partial(train.SRGANDiscriminator, channels=D_WIDTH))
        rng = np.random.default_rng(7)
        state, cin = {}, 3
        for b, n in enumerate(vgg_mod.BLOCKS, 1):
            for k in range(1, n + 1):
                fan = cin * 9
                state[f"_conv_block_{b}._conv_{k}.weight"] = rng.normal(0, (2.0 / fan) ** 0.5, (
                    VGG_CHANNELS[b - 1], cin, 3, 3)).astype("float32")
                cin = VGG_CHANNELS[b - 1]
        path = str(tmp_path_factory.mktemp("vgg") / "VGG19_narrow.pdparams")
        paddle.save({k: paddle.to_tensor(v) for k, v in state.items()}, path)
        yield path, state


def both(official):
    return official(torch.float32), official(torch.float64)


def without_ema(t):
    return Trajectory(t.losses, t.lrs, t.weights, t.init, {k: v for k, v in t.others.items() if k != "ema"},
                      {k: v for k, v in t.others_init.items() if k != "ema"})


def strict(parity):
    """Each network's weights within FACTOR x ITS OWN drift (the harness uses the largest drift for all): the GAN
    tests' generator drifts more than the discriminator (the perceptual loss routes gradients through max-pools
    and ReLUs), and a discriminator that leaves its trajectory must not hide behind the generator's drift. (The
    losses keep the harness's tolerance: a float32 loss drift of 1e-7 is at the resolution of one value.)"""
    pairs = [(parity.weights_gap, parity.weights_drift)] + list(parity.others_gap.values())
    return parity.ok and all(g <= parity.factor * max(d, FLOOR) for g, d in pairs)


def check(name, suite, ref32, ref64):
    """assert_step_parity on the trained networks, and the EMA copy against its own float32 drift: the EMA moves
    a thousandth as far as the weights, so its relative drift (float32 rounding of 0.999 p_ema + 0.001 p) is
    far larger and would set a loose tolerance for the weights."""
    parity = assert_step_parity(suite, without_ema(ref32), without_ema(ref64))
    line = f"{name}: {parity}"
    assert strict(parity), line
    if "ema" in ref64.others:
        init = ref64.others_init["ema"]
        gap = weights_gap(suite.others["ema"], ref64.others["ema"], init)
        drift = weights_gap(ref32.others["ema"], ref64.others["ema"], init)
        assert gap <= FACTOR * max(drift, FLOOR), f"EMA weights {gap:.2e} against {FACTOR:g} x drift {drift:.2e}"
        line += f"; EMA weights {gap:.2e}, tolerance {FACTOR * max(drift, FLOOR):.2e} (drift {drift:.2e})"
    print(line)
    return parity


def gaps(run, ref32, ref64):
    """step_parity of a (reverted) run against the reference, the EMA left out as in ``check``."""
    return step_parity(run, without_ema(ref32), without_ema(ref64))


# ------------------------------------------------------------------------------------------------
# SRResNet: BasicSR SRModel, MSE on the paper's [-1, 1]
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def srresnet_run():
    cfg = replace(configs.resolve("srresnet"), model_kwargs=TINY["srresnet"], patch_size=8, batch_size=4,
                  iterations=20)
    batches = fixed_batches(cfg, 20)
    suite = suite_trajectory(cfg, batches)

    def official(dtype):
        torch.manual_seed(0)
        net = bt.SRResNetTorch(4, **TINY["srresnet"])
        bt.load_suite_state(net, suite.init)
        return bt.sr_trajectory(net, batches, dtype, bt.paper, pixel="l2", lr=cfg.lr, betas=(0.9, 0.999))

    return cfg, batches, strip_variance(suite), *map(strip_variance, both(official))


def test_srresnet_takes_basicsr_sr_model_steps(srresnet_run):
    cfg, _, suite, ref32, ref64 = srresnet_run
    assert cfg.loss_range == "-1,1" and cfg.pixel_loss == "mse" and (cfg.beta1, cfg.beta2) == (0.9, 0.999)
    check("srresnet vs BasicSR sr_model.py", suite, ref32, ref64)


# ------------------------------------------------------------------------------------------------
# SRGAN: BasicSR SRGANModel with the paper's weights (VGG54 after ReLU, MSE, /12.75; 1e-3 vanilla GAN)
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def srgan_run(narrow):
    path, vgg_state = narrow
    cfg = replace(configs.resolve("srgan"), model_kwargs=TINY["srresnet"], patch_size=8, batch_size=4,
                  iterations=20, init_from="", milestones=(10,), vgg_weights=path)
    batches = fixed_batches(cfg, 20)
    suite = suite_trajectory(cfg, batches)

    def official(dtype):
        torch.manual_seed(0)
        net_g = bt.SRResNetTorch(4, **TINY["srresnet"])
        bt.load_suite_state(net_g, suite.init)
        net_d = bt.SRGANDiscriminatorTorch(32, D_WIDTH)
        bt.load_suite_state(net_d, suite.others_init["discriminator"], bt.linear_weights(net_d))
        vgg = bt.VGGFeatureExtractor("relu5_4", VGG_CHANNELS, use_input_norm=True, range_norm=True)
        vgg.load_suite(vgg_state)
        # the paper's 1/12.75 feature rescale inside an MSE is a layer weight of 1/12.75^2
        percep = bt.PerceptualLoss(vgg, {"relu5_4": 1 / 12.75 ** 2}, perceptual_weight=1.0, criterion="l2")
        return bt.gan_trajectory(net_g, net_d, batches, dtype, bt.paper, gan="vanilla", perceptual=percep,
                                 gan_weight=1e-3, lr=cfg.lr, d_lr=cfg.d_lr, betas=(0.9, 0.999),
                                 milestones=(10,), gamma=0.1)

    return cfg, batches, strip_variance(suite), *map(strip_variance, both(official))


def test_srgan_takes_basicsr_srgan_model_steps(srgan_run):
    cfg, _, suite, ref32, ref64 = srgan_run
    assert cfg.gan_type == "vanilla" and cfg.perceptual_relu and cfg.perceptual_criterion == "mse"
    check("srgan vs BasicSR srgan_model.py", suite, ref32, ref64)
    assert suite.lrs[9] == pytest.approx(1e-4) and suite.lrs[10] == pytest.approx(1e-5)


def test_srgan_old_discriminator_loss_leaves_the_official_trajectory(srgan_run):
    """The mean of the two cross-entropies (the notebook's 'bce') is half BasicSR's / the paper's D loss."""
    cfg, batches, suite, ref32, ref64 = srgan_run
    old = strip_variance(suite_trajectory(replace(cfg, gan_type="bce"), batches, init=suite.init,
                                          init_others=suite.others_init))
    parity = gaps(old, ref32, ref64)
    assert not parity.ok and parity.losses_gap > 10 * parity.tol, str(parity)
    print(f"srgan with gan_type bce (D loss halved): {parity}")


# ------------------------------------------------------------------------------------------------
# ESRGAN stage 1 (PSNR) and stage 2 (GAN): BasicSR SRModel / ESRGANModel
# ------------------------------------------------------------------------------------------------

def _rrdb():
    torch.manual_seed(0)
    return esr.RRDBNet(3, 3, scale=4, **TINY["esrgan"])


@pytest.fixture(scope="module")
def esrgan_psnr_run():
    cfg = replace(configs.resolve("esrgan_psnr"), model_kwargs=TINY["esrgan"], patch_size=8, batch_size=4,
                  iterations=20, milestones=(5, 10, 15))
    batches = fixed_batches(cfg, 20)
    suite = suite_trajectory(cfg, batches)

    def official(dtype):
        net = _rrdb()
        bt.load_suite_state(net, suite.init)
        return bt.sr_trajectory(net, batches, dtype, bt.unit, pixel="l1", lr=cfg.lr, betas=(0.9, 0.99),
                                milestones=(5, 10, 15), gamma=0.5, ema_decay=0.999)

    return cfg, batches, suite, *both(official)


def test_esrgan_psnr_takes_basicsr_sr_model_steps(esrgan_psnr_run):
    cfg, _, suite, ref32, ref64 = esrgan_psnr_run
    assert cfg.loss_range == "0,1" and cfg.beta2 == 0.99 and cfg.ema == 0.999
    check("esrgan_psnr vs BasicSR sr_model.py", suite, ref32, ref64)


def test_esrgan_psnr_old_loss_range_leaves_the_official_trajectory(esrgan_psnr_run):
    cfg, batches, suite, ref32, ref64 = esrgan_psnr_run
    old = suite_trajectory(replace(cfg, loss_range="-1,1"), batches, init=suite.init)
    parity = gaps(old, ref32, ref64)
    assert not parity.ok and parity.losses_gap > 10 * parity.tol, str(parity)
    print(f"esrgan_psnr with loss_range -1,1: {parity}")


@pytest.fixture(scope="module")
def esrgan_run(narrow):
    path, vgg_state = narrow
    milestones = (4, 8, 12, 16)
    cfg = replace(configs.resolve("esrgan"), model_kwargs=TINY["esrgan"], patch_size=32, batch_size=2,
                  iterations=20, init_from="", milestones=milestones, vgg_weights=path)
    batches = fixed_batches(cfg, 20)
    suite = suite_trajectory(cfg, batches)

    def official(dtype):
        net_g = _rrdb()
        bt.load_suite_state(net_g, suite.init)
        net_d = esr.VGGStyleDiscriminator(3, D_WIDTH, input_size=128)
        bt.load_suite_state(net_d, suite.others_init["discriminator"], bt.linear_weights(net_d))
        vgg = bt.VGGFeatureExtractor("conv5_4", VGG_CHANNELS, use_input_norm=True, range_norm=False)
        vgg.load_suite(vgg_state)
        percep = bt.PerceptualLoss(vgg, {"conv5_4": 1.0}, perceptual_weight=1.0, criterion="l1")
        return bt.gan_trajectory(net_g, net_d, batches, dtype, bt.unit, gan="ragan", pixel_weight=1e-2,
                                 perceptual=percep, gan_weight=5e-3, lr=cfg.lr, d_lr=cfg.d_lr, betas=(0.9, 0.99),
                                 milestones=milestones, gamma=0.5, ema_decay=0.999)

    return cfg, batches, strip_variance(suite), *map(strip_variance, both(official))


def test_esrgan_takes_basicsr_esrgan_model_steps(esrgan_run):
    cfg, _, suite, ref32, ref64 = esrgan_run
    assert (cfg.loss_range, cfg.gan_type, cfg.perceptual_relu, cfg.perceptual_criterion) == ("0,1", "ragan", False,
                                                                                             "l1")
    assert (cfg.pixel_weight, cfg.perceptual_weight, cfg.adversarial_weight, cfg.ema) == (1e-2, 1.0, 5e-3, 0.999)
    check("esrgan vs BasicSR esrgan_model.py", suite, ref32, ref64)


def _old_ragan_step(kind, disc, hr, sr):
    """The suite's discriminator step before: both means differentiated, two forwards."""
    return losses.discriminator_loss(kind, disc(hr), disc(sr))


@pytest.mark.parametrize("revert", ["loss_range", "d_step"])
def test_esrgan_reverted_fixes_leave_the_official_trajectory(esrgan_run, revert, monkeypatch):
    cfg, batches, suite, ref32, ref64 = esrgan_run
    if revert == "d_step":
        monkeypatch.setattr(losses, "discriminator_step_loss", _old_ragan_step)
    changed = {"loss_range": dict(loss_range="-1,1")}.get(revert, {})
    old = strip_variance(suite_trajectory(replace(cfg, **changed), batches, init=suite.init,
                                          init_others=suite.others_init))
    parity = gaps(old, ref32, ref64)
    assert not strict(parity), str(parity)
    print(f"esrgan with {revert} reverted: {parity}")


# ------------------------------------------------------------------------------------------------
# SwinIR / SwinIR-light: KAIR ModelPlain, main_train_psnr.py
# ------------------------------------------------------------------------------------------------

KAIR_MILESTONES = (5, 10, 15, 18, 20)  # stand-ins for 250k, 400k, 450k, 475k, 500k


def _swinir_run(recipe):
    kwargs = dict(TINY[recipe], drop_path_rate=0.0)
    cfg = replace(configs.resolve(recipe), model_kwargs=kwargs, patch_size=16, batch_size=2, iterations=20,
                  milestones=tuple(m - 1 for m in KAIR_MILESTONES))
    batches = fixed_batches(cfg, 20)
    suite = suite_trajectory(cfg, batches)
    upsampler = "pixelshuffledirect" if recipe == "swinir_light" else "pixelshuffle"

    def official(dtype):
        torch.manual_seed(0)
        net = swr.SwinIR(img_size=16, upscale=2, img_range=1.0, upsampler=upsampler, window_size=8, mlp_ratio=2.0,
                         drop_path_rate=0.0, embed_dim=kwargs["embed_dim"], depths=list(kwargs["depths"]),
                         num_heads=list(kwargs["num_heads"]))
        linear = bt.linear_weights(net)
        bt.load_suite_state(net, suite.init, linear)
        return bt.sr_trajectory(net, batches, dtype, bt.unit, pixel="l1", lr=cfg.lr, betas=(0.9, 0.999),
                                milestones=KAIR_MILESTONES, gamma=0.5, ema_decay=0.999, scheduler="kair",
                                linear=linear)

    return cfg, batches, suite, *both(official)


@pytest.fixture(scope="module", params=["swinir", "swinir_light"])
def swinir_run(request):
    return _swinir_run(request.param)


def test_swinir_takes_kair_steps(swinir_run):
    cfg, _, suite, ref32, ref64 = swinir_run
    assert cfg.loss_range == "0,1" and cfg.ema == 0.999 and (cfg.beta1, cfg.beta2) == (0.9, 0.999)
    check(f"{cfg.model} vs KAIR model_plain.py", suite, ref32, ref64)
    assert suite.lrs[3] == pytest.approx(cfg.lr) and suite.lrs[4] == pytest.approx(cfg.lr / 2)  # halved AT step 5


def test_swinir_old_loss_range_and_schedule_leave_the_official_trajectory(swinir_run):
    cfg, batches, suite, ref32, ref64 = swinir_run
    old = suite_trajectory(replace(cfg, loss_range="-1,1"), batches, init=suite.init)
    parity = gaps(old, ref32, ref64)
    assert not strict(parity), str(parity)
    print(f"{cfg.model} with loss_range -1,1: {parity}")
    late = suite_trajectory(replace(cfg, milestones=KAIR_MILESTONES), batches, init=suite.init)
    assert late.lrs[4] == pytest.approx(cfg.lr) != ref64.lrs[4]  # stepped after the update: one step late


# ------------------------------------------------------------------------------------------------
# The full schedules at the official milestones (one iteration before, at, and after each)
# ------------------------------------------------------------------------------------------------

def _official_lr(milestones, gamma, lr, n, style):
    """torch MultiStepLR at iteration n: BasicSR steps it after every iteration (``update_learning_rate`` when
    ``current_iter > 1``), so iteration n runs at epoch n - 1; KAIR calls ``scheduler.step(n)`` before it."""
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, list(milestones), gamma)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched.step(n if style == "kair" else n - 1)  # the closed form of n (or n - 1) chained steps
    return opt.param_groups[0]["lr"]


OFFICIAL_SCHEDULES = {  # recipe: (milestones, gamma, lr, style) as the official trainer / paper states them
    "srresnet": ((), 1.0, 1e-4, "basicsr"),  # Sec. 3.2: 1e-4 throughout
    "srgan": ((100_000,), 0.1, 1e-4, "basicsr"),  # Sec. 3.2: 10^5 updates at 1e-4, then 10^5 at 1e-5
    "esrgan_psnr": ((200_000, 400_000, 600_000, 800_000), 0.5, 2e-4, "basicsr"),  # paper Sec. 4.1
    "esrgan": ((50_000, 100_000, 200_000, 300_000), 0.5, 1e-4, "basicsr"),  # train_ESRGAN_x4.yml
    "swinir": ((250_000, 400_000, 450_000, 475_000, 500_000), 0.5, 2e-4, "kair"),  # train_swinir_sr_classical.json
    "swinir_light": ((250_000, 400_000, 450_000, 475_000, 500_000), 0.5, 2e-4, "kair"),  # ..._lightweight.json
}


@pytest.mark.parametrize("recipe", sorted(OFFICIAL_SCHEDULES))
def test_lr_schedule_equals_the_official_one_at_every_milestone(recipe):
    cfg = configs.resolve(recipe)
    milestones, gamma, lr, style = OFFICIAL_SCHEDULES[recipe]
    assert cfg.lr == lr
    iterations = {1, cfg.iterations} | {m + d for m in milestones for d in (-1, 0, 1) if 1 <= m + d <= cfg.iterations}
    for n in sorted(iterations):
        assert suite_lr(cfg, n) == pytest.approx(_official_lr(milestones, gamma, lr, n, style), rel=1e-12), f"iteration {n}"


# ------------------------------------------------------------------------------------------------
# srgan_notebook: the seed notebook's weights and joint SRResNet, its defects corrected (recipe comment)
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def notebook_run(narrow):
    path, vgg_state = narrow
    kwargs = dict(TINY["srresnet"], act="relu")
    cfg = replace(configs.resolve("srgan_notebook"), model_kwargs=kwargs, patch_size=8, batch_size=4,
                  iterations=20, vgg_weights=path)
    batches = fixed_batches(cfg, 20)
    suite = suite_trajectory(cfg, batches)

    def nets():
        torch.manual_seed(0)
        net_g, joint = bt.SRResNetTorch(4, **kwargs), bt.SRResNetTorch(4, **kwargs)
        bt.load_suite_state(net_g, suite.init)
        bt.load_suite_state(joint, suite.others_init["srresnet"])
        net_d = bt.SRGANDiscriminatorTorch(32, D_WIDTH)
        bt.load_suite_state(net_d, suite.others_init["discriminator"], bt.linear_weights(net_d))
        return net_g, net_d, joint

    def corrected(dtype):
        net_g, net_d, joint = nets()
        vgg = bt.VGGFeatureExtractor("relu5_4", VGG_CHANNELS, use_input_norm=True, range_norm=True)
        vgg.load_suite(vgg_state)
        percep = bt.PerceptualLoss(vgg, {"relu5_4": 1.0}, perceptual_weight=1e-2, criterion="l2")
        return bt.gan_trajectory(net_g, net_d, batches, dtype, bt.paper, gan="vanilla", pixel_weight=1.0,
                                 pixel="l2", perceptual=percep, gan_weight=1e-2, lr=1e-4, d_lr=1e-4,
                                 betas=(0.9, 0.999), d_scale=0.5, joint=joint)

    def as_is(dtype):
        net_g, net_d, joint = nets()
        vgg = bt.VGGFeatureExtractor("relu5_4", VGG_CHANNELS, use_input_norm=False, range_norm=False)
        vgg.load_suite(vgg_state)
        return bt.notebook_trajectory(net_g, net_d, joint, vgg, batches, dtype)

    ref32, ref64 = map(strip_variance, both(corrected))
    return cfg, strip_variance(suite), ref32, ref64, strip_variance(as_is(torch.float64))


def test_srgan_notebook_takes_the_notebooks_steps_with_its_defects_corrected(notebook_run):
    """G: MSE + 1e-2 VGG54 MSE + 1e-2 adversarial; D: the mean of the two cross-entropies; the joint SRResNet's
    MSE step (the notebook's ``srresnet_trainer``, which has no defect) -- each network's own loss only."""
    cfg, suite, ref32, ref64, _ = notebook_run
    assert (cfg.pixel_weight, cfg.perceptual_weight, cfg.adversarial_weight, cfg.gan_type) == (1.0, 1e-2, 1e-2, "bce")
    check("srgan_notebook vs the notebook's loop, corrected", suite, ref32, ref64)


def test_srgan_notebook_differs_from_the_notebook_as_it_is_only_where_the_recipe_says(notebook_run):
    """The notebook's loop as it is (see ``notebook_trajectory``) trains G and D on each other's losses: far
    from the suite, while its SRResNet step -- the one part without a defect -- is the suite's."""
    cfg, suite, ref32, ref64, as_is = notebook_run
    g = weights_gap(suite.weights, as_is.weights, as_is.init)
    d = weights_gap(suite.others["discriminator"], as_is.others["discriminator"], as_is.others_init["discriminator"])
    j = weights_gap(suite.others["srresnet"], as_is.others["srresnet"], as_is.others_init["srresnet"])
    j_drift = weights_gap(ref32.others["srresnet"], ref64.others["srresnet"], ref64.others_init["srresnet"])
    print(f"srgan_notebook vs the notebook as it is: generator {g:.2e}, discriminator {d:.2e}, joint SRResNet {j:.2e} "
          f"(its float32 drift {j_drift:.2e})")
    g_drift = weights_gap(ref32.weights, ref64.weights, ref64.init)
    d_drift = weights_gap(ref32.others["discriminator"], ref64.others["discriminator"],
                          ref64.others_init["discriminator"])
    print(f"  float32 drifts: generator {g_drift:.2e}, discriminator {d_drift:.2e}")
    assert j <= FACTOR * max(j_drift, FLOOR)
    assert g > FACTOR * max(g_drift, FLOOR) and d > FACTOR * max(d_drift, FLOOR)

"""Step parity of the ``liif``, ``imdn``, ``carn``, ``carn_m``, ``vdsr`` and ``lapsrn`` recipes with their
official trainers (``tests/step_parity.py``; the official steps re-typed in
``tests/reference/lightweight_train_torch.py``).

20 steps of each recipe (its optimiser, loss, loss range, clip and LR rule; reduced models and patches; the
LR schedule compressed to "epochs" of a few iterations so that a change falls inside the 20 steps) from the
same weights on the same batches as the official step, which runs in float32 and float64. Each test also
runs the suite with the difference it proves re-introduced and checks that it leaves the official
trajectory. The ``*_schedule_*`` tests compare the recipes' real LR schedules (as ``train.make_optimizer``
builds them) with the official LR rules at the iterations where they change, one before and one after.
"""
from dataclasses import replace

import numpy as np
import paddle
import pytest
import torch

from paddle_sr.training import recipes as configs
from paddle_sr import train
from paddle_sr.training.recipes import every
from paddle_sr.core.errors import SRError
from tests.reference import classic_torch, edsr_family_torch, esrgan_wdsr_lapsrn_torch, imdn_carn_torch, liif_torch
from tests.reference import lightweight_train_torch as official
from tests.step_parity import (assert_step_parity, fixed_batches, numpy_state, step_parity, suite_lr,
                                suite_trajectory, weights_gap)
from tests.tiny import TINY

STEPS = 20


def _report(name, parity):
    print(f"{name}: {parity}")


def suite_float64(cfg, batches, init):
    """The suite's ``train.train_step`` with the generator cast to float64 (and float64 batches): against the
    float64 reference this leaves no float32 rounding to tolerate, so the steps must agree to ~1e-12."""
    paddle.set_device("cpu")
    paddle.seed(cfg.seed)
    nets, objective, _ = train.build_nets(cfg, fresh=True)
    layer = nets[0].layer
    layer.set_state_dict({k: paddle.to_tensor(v) for k, v in {**numpy_state(layer), **init}.items()})
    layer.to(dtype="float64")
    nets[0].opt, nets[0].sched = train.make_optimizer(cfg, layer.parameters(), cfg.lr)
    nets[0].run = objective.forward_layer(layer)
    for it, arrays in enumerate(batches, start=1):
        train.train_step(nets, objective, None, None, cfg, tuple(np.float64(a) for a in arrays), it, None, "")
    return numpy_state(layer)


def _exact(run):
    """The suite in float64 against the reference in float64: the same steps, up to float64 rounding."""
    cfg, batches, suite, _, ref64 = run
    gap = weights_gap(suite_float64(cfg, batches, suite.init), ref64.weights, ref64.init)
    print(f"{cfg.model} float64 vs official float64: weights {gap:.1e}")
    assert gap < 1e-7, gap


def _teeth(cfg, batches, suite, ref32, ref64, margin=10.0, **change):
    """The suite with ``change`` re-introduced leaves the official trajectory: its weights ``margin`` x the
    tolerance away."""
    bad = suite_trajectory(replace(cfg, **change), batches, init=suite.init)
    parity = step_parity(bad, ref32, ref64)
    assert not parity.ok and parity.weights_gap > margin * parity.tol, f"{change} should leave the trajectory: {parity}"
    return parity


# ---- LIIF ------------------------------------------------------------------------------------------

LIIF_EPOCH = 5


@pytest.fixture(scope="module", params=["liif", "liif_edsr_baseline"])
def liif_run(request):
    """The recipe's RDN encoder (``--model=liif``) and the EDSR-baseline one, both as train_liif.py runs them."""
    name = request.param
    cfg = replace(configs.resolve("liif", {}), model=name, model_kwargs=TINY[name], patch_size=8, batch_size=4,
                  sample_q=64, milestones=(2 * LIIF_EPOCH,), iterations=STEPS)
    batches = fixed_batches(cfg, STEPS)
    suite = suite_trajectory(cfg, batches)
    enc = TINY[name]["encoder_kwargs"]

    def ref(dtype):
        if name == "liif":  # LIIF's models/rdn.py (EDSR-PyTorch's RDN with no_upsampling)
            encoder = edsr_family_torch.make_rdn(G0=enc["num_features"], RDNconfig=(
                enc["num_blocks"], enc["num_layers"], enc["growth_rate"]), no_upsampling=True)
        else:
            encoder = liif_torch.TinyEDSR(**enc)
        model = liif_torch.LIIF(encoder, hidden_list=TINY[name]["hidden_list"])
        linear = [k for k in model.state_dict() if k.startswith("imnet.") and k.endswith(".weight")]
        model.load_state_dict({k: torch.from_numpy(v.T.copy() if k in linear else v) for k, v in suite.init.items()})
        return official.liif_trajectory(model, batches, dtype, lr=cfg.lr, milestones=(2,), gamma=cfg.gamma,
                                        epoch_len=LIIF_EPOCH, transpose=linear)

    return cfg, batches, suite, ref(torch.float32), ref(torch.float64)


def test_liif_takes_train_liif_steps(liif_run):
    cfg, batches, suite, ref32, ref64 = liif_run
    assert cfg.loss_range == "-1,1" and cfg.trainer.startswith("yinboc/liif")
    _report(f"{cfg.model} vs train_liif.py", assert_step_parity(suite, ref32, ref64))
    assert suite.lrs[9] == pytest.approx(1e-4) and suite.lrs[10] == pytest.approx(5e-5)


def test_liif_on_another_loss_range_leaves_the_official_trajectory(liif_run):
    """data_norm (sub 0.5, div 0.5) puts LIIF's L1 on [-1, 1]; an L1 on [0, 1] (half the gradient, Adam's
    epsilon 2x in effect) or on [0, 255] leaves the trajectory. The margin is smaller than for the EDSR
    family (measured: 2.5-2.7x the tolerance with the tiny RDN encoder, 13x with the EDSR one): LIIF's
    gradients already dwarf epsilon on [-1, 1], so a range change moves less."""
    _report(f"{liif_run[0].model} on 0,1", _teeth(*liif_run, margin=2.0, loss_range="0,1"))
    _report(f"{liif_run[0].model} on 0,255", _teeth(*liif_run, margin=2.0, loss_range="0,255"))


# ---- IMDN ------------------------------------------------------------------------------------------

IMDN_EPOCH, IMDN_STEP = 2, 3  # epoch 3 (iteration 5) is the first at lr * 0.5, as epoch 200 officially


@pytest.fixture(scope="module")
def imdn_run():
    base = configs.resolve("imdn", {})
    cfg = replace(base, model_kwargs=dict(nf=16), patch_size=12, batch_size=4, iterations=STEPS,
                  milestones=tuple(k * IMDN_STEP * IMDN_EPOCH - IMDN_EPOCH for k in range(1, 4)))
    batches = fixed_batches(cfg, STEPS)
    suite = suite_trajectory(cfg, batches)

    def ref(dtype):
        model = imdn_carn_torch.IMDN(nf=16, upscale=cfg.scale)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in suite.init.items()})
        return official.imdn_trajectory(model, batches, dtype, lr=cfg.lr, step_size=IMDN_STEP, gamma=cfg.gamma,
                                        epoch_len=IMDN_EPOCH)

    return cfg, batches, suite, ref(torch.float32), ref(torch.float64)


def test_imdn_takes_train_imdn_steps(imdn_run):
    cfg, batches, suite, ref32, ref64 = imdn_run
    assert cfg.loss_range == "0,1" and cfg.trainer.startswith("Zheng222/IMDN")
    _report("imdn vs train_IMDN.py", assert_step_parity(suite, ref32, ref64))
    assert suite.lrs[3] == pytest.approx(2e-4) and suite.lrs[4] == pytest.approx(1e-4)


def test_imdn_on_the_old_loss_range_leaves_the_official_trajectory(imdn_run):
    _report("imdn on -1,1", _teeth(*imdn_run, loss_range="-1,1"))


# ---- CARN / CARN-M ---------------------------------------------------------------------------------

CARN_DECAY = 5  # official --decay of this test: batches 7, 12, 17 are the first at 1/2, 1/4, 1/8


def _carn_run(name):
    base = configs.resolve(name, {"scale": "2"})
    # CARN-M's trajectory has float32-sensitive events: measured over five patch/batch/scale settings, at one
    # step either the reference's own float32 run (twice: 2.8e-4, 5.5e-4) or the suite (2.0e-4, 2.3e-4;
    # 8.6e-5) jumps away from the float64 run after agreeing within 1e-5 up to that step. This setting has
    # no such event on either side (suite 1.7e-5, drift 8.9e-6); CARN's passes with either.
    cfg = replace(base, patch_size=8, batch_size=8 if name == "carn_m" else 4, iterations=STEPS,
                  milestones=tuple(k * CARN_DECAY + 1 for k in range(1, 4)))
    batches = fixed_batches(cfg, STEPS)
    suite = suite_trajectory(cfg, batches)
    s = cfg.scale
    up, mine = "upsample.up.", f"upsample.up{s}."

    def to_official(state):
        return {k.replace(mine, up): v for k, v in state.items() if not k.startswith("upsample.up") or
                k.startswith(mine)}

    def to_suite(state):  # the official single-scale model has one branch; the suite's others stay frozen
        renamed = {k.replace(up, mine): v for k, v in state.items()}
        return {**{k: v for k, v in suite.init.items() if k.startswith("upsample.up")}, **renamed}

    def ref(dtype):
        cls, group = (imdn_carn_torch.CARN, 1) if name == "carn" else (imdn_carn_torch.CARN_M, 4)
        model = cls(scale=s, multi_scale=False, group=group)  # Solver: model(scale=cfg.scale, group=cfg.group)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in to_official(suite.init).items()})
        return official.carn_trajectory(model, batches, s, dtype, lr=cfg.lr, decay=CARN_DECAY, clip=cfg.grad_clip,
                                        key_map=to_suite)

    return cfg, batches, suite, ref(torch.float32), ref(torch.float64)


@pytest.fixture(scope="module", params=["carn", "carn_m"])
def carn_run(request):
    return _carn_run(request.param)


def test_carn_takes_solver_steps(carn_run):
    cfg, batches, suite, ref32, ref64 = carn_run
    assert cfg.loss_range == "0,1" and cfg.grad_clip == 10.0 and cfg.trainer.startswith("nmhkahn/CARN-pytorch")
    _report(f"{cfg.model} vs carn/solver.py", assert_step_parity(suite, ref32, ref64))
    assert suite.lrs[5] == pytest.approx(1e-4) and suite.lrs[6] == pytest.approx(5e-5)  # batch 7: the first halved
    for key in ("sub_mean.shifter.weight", "add_mean.shifter.bias", f"upsample.up{5 - cfg.scale}.body.0.weight"):
        np.testing.assert_array_equal(suite.weights[key], suite.init[key])  # frozen in both codes


def test_carn_on_the_old_loss_range_leaves_the_official_trajectory(carn_run):
    _report(f"{carn_run[0].model} on -1,1", _teeth(*carn_run, loss_range="-1,1"))


def test_carn_milestone_without_the_late_decay_is_not_official(carn_run):
    """Solver.fit sets the lr after the step from the count before the increment: one batch later than a
    plain milestone at ``decay``."""
    cfg, batches, suite, ref32, ref64 = carn_run
    early = suite_trajectory(replace(cfg, milestones=tuple(k * CARN_DECAY for k in range(1, 4))), batches[:8],
                             init=suite.init)
    assert early.lrs[5] != pytest.approx(ref64.lrs[5])


# ---- VDSR ------------------------------------------------------------------------------------------

VDSR_EPOCH, VDSR_STEP = 5, 2  # epoch 3 (iteration 11) is the first at 0.01


@pytest.fixture(scope="module")
def vdsr_run():
    base = configs.resolve("vdsr", {})
    cfg = replace(base, model_kwargs=dict(num_layers=6), patch_size=6, batch_size=4, iterations=STEPS,
                  milestones=(VDSR_STEP * VDSR_EPOCH, 2 * VDSR_STEP * VDSR_EPOCH))
    batches = fixed_batches(cfg, STEPS)
    suite = suite_trajectory(cfg, batches)

    def ref(dtype):
        model = classic_torch.VDSR(num_of_layer=4)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in suite.init.items()})
        return official.vdsr_trajectory(model, batches, cfg.scale, dtype, lr=cfg.lr, step=VDSR_STEP,
                                        momentum=cfg.momentum, weight_decay=cfg.weight_decay, clip=cfg.grad_clip,
                                        epoch_len=VDSR_EPOCH)

    return cfg, batches, suite, ref(torch.float32), ref(torch.float64)


def test_vdsr_takes_pytorch_vdsr_steps(vdsr_run):
    cfg, batches, suite, ref32, ref64 = vdsr_run
    assert (cfg.pixel_loss, cfg.loss_reduction, cfg.loss_range) == ("mse", "total", "0,1")
    _report("vdsr vs pytorch-vdsr main_vdsr.py", assert_step_parity(suite, ref32, ref64))
    assert suite.lrs[9] == pytest.approx(0.1) and suite.lrs[10] == pytest.approx(0.01)


def test_vdsr_with_the_old_euclidean_mean_over_batch_leaves_the_official_losses(vdsr_run):
    """The previous recipe (1/2 the per-sample sum, averaged over the batch: 1/(2 x batch) of the port's
    loss) logs another loss; its WEIGHTS stay on the port's trajectory, which this pins: the global-norm clip
    0.4 is active at every step (gradient norms of the summed loss are ~1e3-1e5 here, larger with 41x41
    patches and batch 64), so the SGD step is 0.4 x the gradient's direction whatever the loss scale."""
    cfg, batches, suite, ref32, ref64 = vdsr_run
    bad = suite_trajectory(replace(cfg, pixel_loss="euclidean", loss_reduction="sum"), batches, init=suite.init)
    parity = step_parity(bad, ref32, ref64)
    _report("vdsr euclidean/sum", parity)
    assert not parity.ok and parity.losses_gap > 10 * parity.tol
    assert parity.weights_gap < parity.tol


def test_vdsr_without_the_gradient_clip_diverges(vdsr_run):
    """The clip is what makes lr 0.1 on the summed loss trainable: without it the suite stops on a non-finite
    loss within a few steps (so the parity above does rest on the clip acting as the port's)."""
    cfg, batches, suite, _, _ = vdsr_run
    with pytest.raises(SRError, match="became"):
        suite_trajectory(replace(cfg, grad_clip=0.0), batches, init=suite.init)


# ---- LapSRN ----------------------------------------------------------------------------------------

LAPSRN_EPOCH, LAPSRN_STEP = 2, 2  # lr halves every 4 iterations, floored at lr_min from iteration 17


@pytest.fixture(scope="module")
def lapsrn_run():
    base = configs.resolve("lapsrn", {})
    cfg = replace(base, model_kwargs=TINY["lapsrn"], patch_size=6, batch_size=4, iterations=STEPS, lr=1e-3,
                  lr_min=1e-4, milestones=every(LAPSRN_EPOCH * LAPSRN_STEP, STEPS))
    batches = fixed_batches(cfg, STEPS)
    suite = suite_trajectory(cfg, batches)
    lr_all = official.learning_rate_policy(cfg.lr, LAPSRN_STEP, cfg.gamma, cfg.lr_min, STEPS // LAPSRN_EPOCH)

    def ref(dtype):
        model = esrgan_wdsr_lapsrn_torch.LapSRNMatConvNet(cfg.scale, depth=TINY["lapsrn"]["depth"],
                                                          n=TINY["lapsrn"]["n_feats"])
        model.load_state_dict({k: torch.from_numpy(v) for k, v in suite.init.items()})
        return official.lapsrn_trajectory(model, batches, dtype, lr_all=lr_all, momentum=cfg.momentum,
                                          weight_decay=cfg.weight_decay, epoch_len=LAPSRN_EPOCH)

    return cfg, batches, suite, ref(torch.float32), ref(torch.float64)


def test_lapsrn_takes_matconvnet_steps(lapsrn_run):
    cfg, batches, suite, ref32, ref64 = lapsrn_run
    assert cfg.bias_lr_mult == 0.1 and cfg.trainer.startswith("phoenix104104/LapSRN")
    _report("lapsrn vs vllab_cnn_train_dag.m", assert_step_parity(suite, ref32, ref64))
    assert suite.lrs[4] == pytest.approx(5e-4) and suite.lrs[16] == pytest.approx(1e-4)  # halved; floored


def test_lapsrn_without_the_bias_learning_rate_leaves_the_official_trajectory(lapsrn_run):
    _report("lapsrn bias lr 1", _teeth(*lapsrn_run, bias_lr_mult=1.0))


# ---- float64: the same steps without float32 rounding ---------------------------------------------------
# (not for VDSR / LapSRN: the suite computes their bicubic upsampling kernel / pyramid targets in float32 by
# design, which a float64 run keeps: measured 2.7e-5 / 5.1e-5 of the update from the float64 reference, the
# Charbonnier gradient d / sqrt(d^2 + 1e-6) amplifying the targets' float32 rounding.)

def test_liif_in_float64_takes_the_official_float64_steps(liif_run):
    _exact(liif_run)


def test_imdn_in_float64_takes_the_official_float64_steps(imdn_run):
    _exact(imdn_run)


def test_carn_in_float64_takes_the_official_float64_steps(carn_run):
    """Also where the float32 suite hits one of CARN-M's float32-sensitive jumps (x4, patch 6, batch 4:
    float32 2.0e-4 from the float64 reference; float64 4.7e-15)."""
    _exact(carn_run)


# ---- the real schedules ------------------------------------------------------------------------------

def _check_schedule(cfg, official_lr):
    its = range(1, cfg.iterations + 1)
    changes = [it for it in its[1:] if official_lr(it) != official_lr(it - 1)]
    assert changes, "the official schedule never changes: nothing checked"
    probe = sorted({1, cfg.iterations} | {c + d for c in changes for d in (-1, 0, 1) if 1 <= c + d <= cfg.iterations})
    got = [suite_lr(cfg, it) for it in probe]
    want = [official_lr(it) for it in probe]
    np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=f"{cfg.model} lr at iterations {probe}")
    return changes


def test_liif_schedule_is_the_official_multisteplr():
    cfg, epoch = configs.resolve("liif", {}), 1000  # 800 images x repeat 20 / batch 16

    def lr(it):
        done = (it - 1) // epoch  # epochs finished (lr_scheduler.step() calls) before this iteration
        return 1e-4 * 0.5 ** sum(done >= m for m in (200, 400, 600, 800))

    assert _check_schedule(cfg, lr) == [200_001, 400_001, 600_001, 800_001]


def test_imdn_schedule_is_adjust_learning_rate():
    cfg, epoch = configs.resolve("imdn", {}), 1000  # test_every 1000: 800 x 20 repeats / 16

    def lr(it):
        return official.imdn_lr((it - 1) // epoch + 1, 200, 2e-4, 0.5)

    assert _check_schedule(cfg, lr) == [199_001, 399_001, 599_001, 799_001, 999_001]


@pytest.mark.parametrize("name", ["carn", "carn_m"])
def test_carn_schedule_is_decay_learning_rate(name):
    cfg = configs.resolve(name, {})

    def lr(it):
        return 1e-4 if it == 1 else official.carn_lr(it - 2, 1e-4, 400_000)

    assert _check_schedule(cfg, lr) == [400_002]


def test_vdsr_schedule_is_main_vdsr_adjust_learning_rate():
    cfg = configs.resolve("vdsr", {})

    def lr(it):
        return official.vdsr_lr((it - 1) // configs.EPOCH + 1, 0.1, 20)

    assert _check_schedule(cfg, lr) == [20_001, 40_001, 60_001]


def test_lapsrn_schedule_is_learning_rate_policy():
    cfg = configs.resolve("lapsrn", {})
    lr_all = official.learning_rate_policy(1e-5, 50, 0.5, 1e-6, 1000)  # init_LapSRN_opts.m; 1000 epochs

    def lr(it):
        return lr_all[(it - 1) // 100]  # num_train_batch 100 per epoch

    assert _check_schedule(cfg, lr) == [5_001, 10_001, 15_001, 20_001]

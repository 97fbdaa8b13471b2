"""Step parity of the EDSR-PyTorch-style recipes with their official trainers (``tests/step_parity.py``):
``rcan``, ``san``, ``wdsr_a`` / ``wdsr_b`` (the 2018 EDSR-PyTorch trainer that RCAN and SAN copied:
``tests/reference/rcan_train_torch.py``), ``rdn`` and ``edsr`` (today's EDSR-PyTorch trainer:
``tests/reference/edsr_train_torch.py``; ``edsr_baseline`` is ``tests/test_step_parity_edsr.py``), and ``ignn``
(its own trainer, sczhou/IGNN ``core/train.py``: ``tests/reference/ignn_train_torch.py``).

Each run: 20 steps of a reduced model (tests/tiny.py) on the recipe's optimiser, loss, loss range, mean-shift
choice and schedule, the schedule compressed to an "epoch" of 5 iterations with the lr decayed after 2 epochs
so that the step falls inside the 20 steps; both sides from the same weights on the same batches. Each test
also re-runs the suite with the fix reverted (the old [-1, 1] loss range; RCAN/SAN's mean shift frozen) and
checks that it leaves the official trajectory. Then the full-length schedules, the x2 -> x3/x4 warm start and
the official skip of exploding batches (a difference kept on purpose).
"""
from dataclasses import replace

import numpy as np
import paddle
import pytest
import torch

from paddle_sr.training import recipes as configs
from paddle_sr import models
from paddle_sr.training.run import warm_start
from paddle_sr.training.recipes import EPOCH as TEST_EVERY
from paddle_sr.core.errors import SRError
from tests.reference import edsr_family_torch as ref
from tests.reference import edsr_train_torch as edsr_trainer
from tests.reference import esrgan_wdsr_lapsrn_torch as ref_wdsr
from tests.reference import rcan_train_torch as rcan_trainer
from tests.reference import swinir_san_torch as ref_san
from tests.step_parity import assert_step_parity, fixed_batches, step_parity, suite_lr, suite_trajectory
from tests.tiny import TINY

EPOCH = 5  # the test's test_every: the lr decays after 2 epochs, i.e. from iteration 11 on
# The test's lr: 1e-3 as the EDSR-baseline test, where a reduced model's float32 drift is smallest relative to
# the update (at 1e-4 a single ReLU flipping on rounding in EDSR's first block puts the suite 14x the drift
# away). SAN at its recipe's 1e-4: at 1e-3 its iSQRT covariance makes the float32 drift 1e-3 of the update,
# which would leave the loss-range revert check a 1.8x margin (3.7x at 1e-4).
TEST_LR = {"san": 1e-4}


def _rcan(scale):
    model = ref.make_rcan(scale, **TINY["rcan"])
    # RCAN_TrainCode/code/model/common.py MeanShift ends with ``self.requires_grad = False``: a module
    # attribute, no parameter is frozen. The re-typed EDSR-PyTorch MeanShift here freezes them; undo that.
    for p in list(model.sub_mean.parameters()) + list(model.add_mean.parameters()):
        p.requires_grad = True
    return model


OFFICIAL = {  # recipe: (the official model from TINY settings, trainer module, trainer overrides)
    "rcan": (_rcan, rcan_trainer, {}),
    "san": (lambda s: ref_san.SAN(scale=s, **TINY["san"]), rcan_trainer, dict(beta2=0.99)),
    "wdsr_a": (lambda s: ref_wdsr.make_wdsr("A", s, **TINY["wdsr_a"]), rcan_trainer, {}),
    "wdsr_b": (lambda s: ref_wdsr.make_wdsr("B", s, **TINY["wdsr_b"]), rcan_trainer, {}),
    "rdn": (lambda s: ref.make_rdn(s, G0=8, RDNconfig=(2, 2, 4)), edsr_trainer, {}),
    "edsr": (lambda s: ref.make_edsr(s, **TINY["edsr"]), edsr_trainer, {}),
}


def small(name):
    base = configs.resolve(name, {"scale": "2"})
    return replace(base, model_kwargs={**base.model_kwargs, **TINY[name]}, patch_size=12, batch_size=4,
                   milestones=(2 * EPOCH,), iterations=20, lr=TEST_LR.get(name, 1e-3))


def official(name, cfg, batches, init, dtype):
    make, trainer, extra = OFFICIAL[name]
    torch.manual_seed(0)
    model = make(cfg.scale)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in init.items()})
    if trainer is rcan_trainer:
        kw = dict(lr_decay=2, test_every=EPOCH)
    else:
        kw = dict(decay="2", test_every=EPOCH)
    return trainer.train_trajectory(model, batches, dtype, lr=cfg.lr, **{**kw, **extra})


_RUNS = {}


def run(name):
    if name not in _RUNS:
        cfg = small(name)
        batches = fixed_batches(cfg, 20)
        suite = suite_trajectory(cfg, batches)
        _RUNS[name] = (cfg, batches, suite, official(name, cfg, batches, suite.init, torch.float32),
                       official(name, cfg, batches, suite.init, torch.float64))
    return _RUNS[name]


@pytest.mark.parametrize("name", list(OFFICIAL))
def test_recipe_takes_the_official_steps(name):
    cfg, _, suite, ref32, ref64 = run(name)
    assert cfg.loss_range == "0,255"
    parity = assert_step_parity(suite, ref32, ref64)
    print(f"{name} vs {cfg.trainer}: {parity}")
    assert suite.lrs[9] == pytest.approx(cfg.lr) and suite.lrs[10] == pytest.approx(cfg.lr / 2)
    assert not getattr(ref64, "skipped", [])


@pytest.mark.parametrize("name", list(OFFICIAL))
def test_the_old_loss_range_leaves_the_official_trajectory(name):
    """Teeth: the pixel loss on the suite's [-1, 1] (Adam's epsilon 127.5x too large in effect) fails."""
    cfg, batches, suite, ref32, ref64 = run(name)
    old = suite_trajectory(replace(cfg, loss_range="-1,1"), batches, init=suite.init)
    parity = step_parity(old, ref32, ref64)
    print(f"{name}, loss on [-1, 1]: {parity}")
    assert parity.weights_gap > parity.tol, str(parity)  # the weights, not only the 127.5x smaller loss values


@pytest.mark.parametrize("name", ["rcan", "san"])
def test_a_frozen_mean_shift_leaves_the_official_trajectory(name):
    """RCAN's and SAN's official MeanShift (``self.requires_grad = False`` on the module) trains: freezing it
    is another optimisation, and the test sees it."""
    cfg, batches, suite, ref32, ref64 = run(name)
    assert cfg.train_mean_shift
    assert not np.array_equal(suite.weights["sub_mean.bias"], suite.init["sub_mean.bias"])
    frozen = suite_trajectory(replace(cfg, train_mean_shift=False), batches, init=suite.init)
    parity = step_parity(frozen, ref32, ref64)
    print(f"{name}, mean shift frozen: {parity}")
    assert parity.weights_gap > 10 * parity.tol, str(parity)


def test_rdn_computes_on_the_official_range():
    """EDSR-PyTorch feeds RDN (no mean shift) 0-255 images: the recipe's RDN works on [0, 255] inside
    (``value_range``), and an RDN on the suite's [-1, 1] leaves the official trajectory."""
    cfg, batches, suite, ref32, ref64 = run("rdn")
    assert list(cfg.model_kwargs["value_range"]) == [0, 255]
    kwargs = {k: v for k, v in cfg.model_kwargs.items() if k != "value_range"}
    old = suite_trajectory(replace(cfg, model_kwargs=kwargs), batches, init={k: v for k, v in suite.init.items()
                                                                             if k != "value_range"})
    parity = step_parity(old, ref32, ref64)
    print(f"rdn on [-1, 1] inside: {parity}")
    assert parity.weights_gap > 10 * parity.tol, str(parity)


# ---- the full-length schedules -------------------------------------------------------------------
def official_epoch_lrs(name, cfg, epochs):
    """The lr of each official epoch (1..epochs) from the official scheduler builder, full length."""
    if OFFICIAL[name][1] is rcan_trainer:
        # RCAN / SAN / WDSR's trainer: StepLR(lr_decay=200, gamma=0.5), stepped at the start of each epoch
        return rcan_trainer.epoch_lrs(epochs, lr=cfg.lr, lr_decay=200, gamma=0.5)
    args = edsr_trainer.Namespace(**{**edsr_trainer.DEFAULTS, "lr": cfg.lr})  # option.py: --decay 200
    opt = edsr_trainer.make_optimizer(args, torch.nn.Linear(1, 1))
    out = []
    for _ in range(epochs):  # Trainer.train: the epoch runs at get_lr(), then optimizer.schedule()
        out.append(opt.get_lr())
        opt.step()
        opt.schedule()
    return out


@pytest.mark.parametrize("name", list(OFFICIAL) + ["edsr_baseline"])
def test_the_schedule_is_the_official_one_at_every_change(name):
    cfg = configs.resolve(name)
    epochs = cfg.iterations // TEST_EVERY
    per_epoch = official_epoch_lrs(name if name in OFFICIAL else "edsr", cfg, epochs)
    changes = [e for e in range(1, epochs) if per_epoch[e] != per_epoch[e - 1]]  # 0-based epochs with a new lr
    assert changes == [k * 200 for k in range(1, (epochs - 1) // 200 + 1)], changes  # after every 200 epochs
    checked = {1, cfg.iterations}
    for e in changes:
        first = e * TEST_EVERY + 1  # the first iteration of the epoch with the new lr
        checked |= {first - 2, first - 1, first, first + 1}
    for it in sorted(checked):
        want = per_epoch[(it - 1) // TEST_EVERY]
        assert suite_lr(cfg, it) == pytest.approx(want, rel=1e-12), f"{name}: iteration {it}"


def test_rcan_halves_after_200_full_epochs_as_under_its_pytorch_0_4():
    """RCAN's trainer steps StepLR at the start of each epoch. Under PyTorch 0.4.0 (RCAN's README) that
    halves from epoch 201 on; under PyTorch >= 1.1 (the constructor's own first step) one epoch early, from
    epoch 200. The suite follows the authors' environment: iteration 199,001 still at 1e-4."""
    old = rcan_trainer.epoch_lrs(401, lr_decay=200)
    with pytest.warns(UserWarning):  # modern torch: "lr_scheduler.step() before optimizer.step()"
        modern = rcan_trainer.epoch_lrs(401, modern=True, lr_decay=200)
    assert old[199] == 1e-4 and old[200] == 5e-5 and old[400] == 2.5e-5
    assert modern[198] == 1e-4 and modern[199] == 5e-5
    cfg = configs.resolve("rcan")
    assert suite_lr(cfg, 199 * TEST_EVERY + 1) == pytest.approx(1e-4)
    assert suite_lr(cfg, 200 * TEST_EVERY) == pytest.approx(1e-4)
    assert suite_lr(cfg, 200 * TEST_EVERY + 1) == pytest.approx(5e-5)


# ---- x2 -> x3 / x4 warm start ----------------------------------------------------------------------
def official_pre_train(model, state_dict):
    """``--pre_train``: ``Model.load(..., strict=False)`` into the model's own ``load_state_dict``,
    re-typed from RCAN_TrainCode/code/model/rcan.py (EDSR-PyTorch src/model/edsr.py is the same): a
    parameter whose shape differs is skipped only in the upsampler (``tail``), elsewhere an error; missing
    and unexpected keys are ignored. Returns the names it left at their initial values."""
    own_state = model.state_dict()
    copied = set()
    for name, param in state_dict.items():
        if name in own_state:
            try:
                own_state[name].copy_(param)
                copied.add(name)
            except Exception:
                if name.find("tail") < 0:
                    raise RuntimeError(f"While copying the parameter named {name}")
    return set(own_state) - copied


@pytest.mark.parametrize("name", ["edsr", "edsr_baseline", "rcan"])
@pytest.mark.parametrize("scale", [3, 4])
def test_x2_warm_start_keeps_random_what_pre_train_does(name, scale, tmp_path, capsys):
    """EDSR (Sec. 4.2; EDSR-PyTorch src/demo.sh) and RCAN (TrainRCAN_scripts.sh) train x3/x4 from the x2
    model with ``--pre_train``; the recipes' ``--init_from=output/<recipe>_x2/Best.pdparams --init_partial=true``
    loads the same tensors and leaves the same upsampler convs random (x4: the second x2 stage, tail.0.2;
    x3: the x3 stage, tail.0.0; the last conv tail.1 is loaded)."""
    kwargs = TINY["rcan" if name == "rcan" else "edsr"]
    make = {"edsr": ref.make_edsr, "edsr_baseline": ref.make_edsr_baseline, "rcan": ref.make_rcan}[name]
    torch.manual_seed(0)
    x2, target = make(2, **kwargs), make(scale, **kwargs)
    kept = official_pre_train(target, x2.state_dict())
    paddle.seed(0)
    x2_suite = models.create(name, scale=2, **kwargs)
    x2_suite.set_state_dict({k: paddle.to_tensor(v.numpy()) for k, v in x2.state_dict().items()})
    path = tmp_path / "Best.pdparams"
    paddle.save(x2_suite.state_dict(), str(path))
    model = models.create(name, scale=scale, **kwargs)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    warm_start(model, str(path), partial=True)
    after = {k: v.numpy() for k, v in model.state_dict().items()}
    random = {k for k in before if k != "value_range" and k in x2.state_dict()
              and not np.array_equal(after[k], x2.state_dict()[k].numpy())}
    random |= {k for k in before if k not in x2.state_dict() and k != "value_range"}
    assert random == kept and kept == ({"tail.0.2.weight", "tail.0.2.bias"} if scale == 4 else
                                       {"tail.0.0.weight", "tail.0.0.bias"})
    for k in kept:
        np.testing.assert_array_equal(after[k], before[k])
    assert "kept random" in capsys.readouterr().out
    cfg = configs.resolve(name, {"scale": str(scale), "init_from": str(path), "init_partial": "true"})
    assert cfg.init_partial and cfg.init_from == str(path)  # the documented option is a recipe option


# ---- the official skip of exploding batches: not reproduced ----------------------------------------
def test_exploding_batches_are_taken_or_stop_training_never_skipped():
    """RCAN's (and SAN's, and 2018 EDSR-PyTorch's) trainer skips a batch whose loss is not below
    ``skip_threshold`` (1e6) x the previous epoch's mean loss, and so also every NaN batch, silently. The
    suite keeps a difference on purpose: it takes every finite batch (at 1e6 x the mean the skip never fires
    on a run that trains), and a non-finite loss stops training with an error naming the last checkpoint,
    rather than training on past a broken batch."""
    cfg, batches, suite, _, _ = run("rcan")
    boom = (batches[EPOCH][0], batches[EPOCH][1] * 1e9)  # L1 ~1e11 on [0, 255]: > 1e6 x the first epoch's mean
    seq = list(batches[:EPOCH]) + [boom]
    official = rcan_trainer.train_trajectory(_loaded("rcan", cfg, suite.init), seq, torch.float64, lr=cfg.lr,
                                             lr_decay=2, test_every=EPOCH)
    assert official.skipped == [EPOCH]
    ours = suite_trajectory(cfg, seq, init=suite.init)
    taken = suite_trajectory(cfg, seq[:EPOCH], init=suite.init)
    assert ours.losses[-1]["pixel"] > 1e6 * np.mean([v["pixel"] for v in ours.losses[:EPOCH]])
    assert any(not np.array_equal(ours.weights[k], taken.weights[k]) for k in taken.weights)  # stepped
    with pytest.raises(SRError, match="became nan"):
        suite_trajectory(cfg, [(batches[0][0], np.full_like(batches[0][1], np.nan))], init=suite.init)


def _loaded(name, cfg, init):
    torch.manual_seed(0)
    model = OFFICIAL[name][0](cfg.scale)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in init.items()})
    return model


# ---- IGNN: its own trainer (sczhou/IGNN core/train.py) -------------------------------------------
def test_ignn_takes_the_official_steps():
    """20 steps of a reduced IGNN (x2, LR 16x16: the son's 8x8 grid still has 5 neighbours per patch) against
    ``tests/reference/ignn_train_torch.py``; epochs of 5 iterations with the official milestone at "epoch 2",
    which the official loop (scheduler stepped before each epoch) reaches one epoch early: iteration 6."""
    from tests.reference import ignn_torch
    from tests.reference import ignn_train_torch as ignn_trainer

    base = configs.resolve("ignn", {"scale": "2"})
    cfg = replace(base, model_kwargs=TINY["ignn"], patch_size=16, batch_size=2, milestones=(EPOCH,),
                  iterations=20, lr=1e-3)
    batches = fixed_batches(cfg, 20)
    suite = suite_trajectory(cfg, batches)

    def official(dtype):
        ignn_torch.reset_cfg(scale=2, n_resblocks=TINY["ignn"]["n_resblocks"], n_feats=TINY["ignn"]["n_feats"])
        torch.manual_seed(0)
        net = ignn_torch.IGNN()
        net.load_state_dict({k: torch.from_numpy(v) for k, v in suite.init.items() if k != "value_range"})
        return ignn_trainer.train_trajectory(net, batches, dtype, LEARNING_RATE=cfg.lr, LR_MILESTONES=[2],
                                             MAX_INTERS_PER_EPOCH=EPOCH)

    ref32, ref64 = official(torch.float32), official(torch.float64)
    strip = lambda t: replace(t, weights={k: v for k, v in t.weights.items() if k != "value_range"},  # noqa: E731
                              init={k: v for k, v in t.init.items() if k != "value_range"})
    suite = strip(suite)
    parity = assert_step_parity(suite, ref32, ref64)
    print(f"ignn vs {cfg.trainer}: {parity}")
    assert suite.lrs[4] == pytest.approx(cfg.lr) and suite.lrs[5] == pytest.approx(cfg.lr / 2)
    old = strip(suite_trajectory(replace(cfg, loss_range="-1,1"), batches, init=suite.init))
    bad = step_parity(old, ref32, ref64)
    print(f"ignn, loss on [-1, 1]: {bad}")
    assert bad.weights_gap > bad.tol, str(bad)


def test_ignn_schedule_is_the_official_one_at_every_change():
    """config.py: milestones [16, 32, 48, 64] epochs of 10,000 iterations, the scheduler stepped before each
    epoch (core/train.py) on PyTorch >= 1.1: halved from epoch 15 (0-based) on, iteration 150,001."""
    from tests.reference import ignn_train_torch as ignn_trainer

    cfg = configs.resolve("ignn")
    per_epoch = ignn_trainer.epoch_lrs(80)
    n = ignn_trainer.TRAIN.MAX_INTERS_PER_EPOCH
    assert cfg.iterations == 80 * n
    changes = [e for e in range(1, 80) if per_epoch[e] != per_epoch[e - 1]]
    assert changes == [15, 31, 47, 63]
    checked = {1, cfg.iterations}
    for e in changes:
        checked |= {e * n - 1, e * n, e * n + 1, e * n + 2}
    for it in sorted(checked):
        assert suite_lr(cfg, it) == pytest.approx(per_epoch[(it - 1) // n], rel=1e-12), f"iteration {it}"

"""The training CLI: every recipe for 2 iterations, overrides, resume bit-exactness, kill -9, NaN stop."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import paddle
import pytest

from paddle_sr.training import recipes as configs, losses
from paddle_sr import models, train
from paddle_sr.weights.state import check_state_dict
from paddle_sr.core.errors import SRError

ROOT = Path(__file__).resolve().parents[1]

# Small enough for a 2-core CPU: tiny widths, 2-image batches, validation on 32-pixel crops.
from tiny import TINY as TINY_MODELS  # noqa: E402  (the one table of reduced settings)


def tiny_args(recipe, tmp_path, **extra):
    cfg = configs.RECIPES[recipe]
    kwargs = TINY_MODELS[cfg.model]
    opts = dict(data="embedded:train", iterations=2, batch_size=2, patch_size=8, val_every=2, log_every=1, val_max_size=32,
                output=str(tmp_path), progress="false", model_kwargs=json.dumps(kwargs), sample_q=64)
    if cfg.adversarial_weight or cfg.perceptual_weight:  # the SRGAN discriminator wants HR % 16 == 0
        opts.update(patch_size=4, allow_random_vgg="true", init_from="", perceptual_layer="conv2_2")
    if cfg.discriminator == "vgg_style":  # ESRGAN's discriminator takes 128x128 HR patches
        opts.update(patch_size=128 // cfg.scale, batch_size=1)
    if cfg.model.startswith("rlfn"):  # ESA's strided conv + 7x7 pool need >= 15 LR pixels
        opts.update(patch_size=16, val_max_size=64)
    opts.update(extra)
    return [recipe] + [f"--{k}={v}" for k, v in opts.items()]


def narrow_discriminator(monkeypatch):
    """ESRGAN's discriminator with 8 instead of 64 base channels (same layers, same 128x128 input): a full
    one costs seconds per iteration on a 2-core CPU."""
    monkeypatch.setattr(train, "build_discriminator", lambda cfg: train.UnitRangeVGGStyleDiscriminator(
        num_feat=8, input_size=cfg.patch_size * cfg.scale) if cfg.discriminator == "vgg_style"
        else train.SRGANDiscriminator(cfg.patch_size * cfg.scale, logits=True))


def run_folder(tmp_path, recipe, **extra):
    argv = tiny_args(recipe, tmp_path, **extra)
    cfg = configs.resolve(argv[0], configs.parse_overrides(argv[1:]))
    return cfg, tmp_path / cfg.run


def weights(path):
    return {k: v.numpy() for k, v in paddle.load(str(path)).items()}


@pytest.mark.parametrize("recipe", sorted(configs.RECIPES))
def test_every_recipe_runs_two_iterations_and_writes_its_run_folder(recipe, tmp_path, monkeypatch):
    from visualdl import LogReader

    narrow_discriminator(monkeypatch)
    argv = tiny_args(recipe, tmp_path)
    assert train.main(argv) == 0
    cfg, folder = run_folder(tmp_path, recipe)
    saved = json.loads((folder / "config.json").read_text())
    assert saved["model"] == cfg.model and saved["iterations"] == 2 and saved["model_kwargs"] == TINY_MODELS[cfg.model]
    model = models.create(cfg.model, scale=cfg.scale, **cfg.model_kwargs)
    for name in ("Model.pdparams", "Best.pdparams"):
        state = paddle.load(str(folder / name))
        check_state_dict(model, state, name)  # every key, every shape
        model.set_state_dict(state)
    state = paddle.load(str(folder / train.STATE))
    assert state["iteration"] == 2 and np.isfinite(state["best_psnr"]) and state["config"]["run"] == cfg.run
    assert any(k.startswith("@") for k in state["optimizer"])  # moments stored under structured names
    if cfg.adversarial_weight:
        assert "discriminator" in state and "discriminator_optimizer" in state
    if cfg.joint_srresnet:
        assert "srresnet" in state and (folder / "SRResNet.pdparams").is_file()
    logs = list((folder / "vdl").glob("*.log"))
    assert len(logs) == 1 and logs[0].stat().st_size > 0
    reader = LogReader(file_path=str(logs[0]))
    tags = reader.get_tags()
    assert "train/loss" in tags["scalar"] and "val/embedded_val/psnr" in tags["scalar"]
    assert [r.id for r in reader.get_data("scalar", "train/loss")] == [1, 2]
    assert tags.get("image"), "sample SR images are logged"


def test_overrides_are_checked_against_the_recipe_types():
    cfg = configs.resolve("rdn", configs.parse_overrides(
        ["--iterations=7", "--lr=2e-4", "--amp=false", "--milestones=3,5", "--val_data=a,b",
         '--model_kwargs={"num_features": 8}', "--run=x"]))
    assert (cfg.iterations, cfg.lr, cfg.amp, cfg.milestones, cfg.val_data) == (7, 2e-4, False, (3, 5), ("a", "b"))
    assert cfg.model_kwargs == {"num_features": 8} and cfg.run == "x"
    assert configs.resolve("rdn").run == "rdn_x4" and configs.resolve("demo").scale == 2
    with pytest.raises(SRError, match=r"--iterations='ten'.*integer.*'iterations' is int"):
        configs.resolve("rdn", {"iterations": "ten"})
    with pytest.raises(SRError, match=r"unknown option --iteration;.*iterations"):
        configs.parse_overrides(["--iteration=5"])
    with pytest.raises(SRError, match="true or false"):
        configs.resolve("rdn", {"amp": "maybe"})
    with pytest.raises(SRError, match="JSON object"):
        configs.resolve("rdn", {"model_kwargs": "num_features=8"})
    with pytest.raises(SRError, match="--key=value"):
        configs.parse_overrides(["iterations=5"])
    with pytest.raises(SRError, match="unknown recipe 'rdm'; known recipes: rdn"):
        configs.resolve("rdm")
    with pytest.raises(SRError, match="stages 1-3"):
        configs.resolve("rlfn", {"stage": "4"})


def test_help_lists_recipes_and_options(capsys):
    assert train.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in configs.RECIPES:
        assert f"\n  {name} " in out
    assert "--patch_size=" in out and "--max_minutes=" in out


def test_rlfn_stages_warm_start_from_the_previous_best(tmp_path):
    cfg = configs.resolve("rlfn", {"stage": "2", "output": str(tmp_path)})
    assert cfg.run == "rlfn_x4_stage2" and cfg.contrastive_weight > 0
    assert cfg.init_from == f"{tmp_path}/rlfn_x4_stage1/Best.pdparams"
    with pytest.raises(SRError, match="--stage=1"):
        train.main(tiny_args("rlfn", tmp_path, stage=2, contrastive_weight=1.0))
    assert train.main(tiny_args("rlfn", tmp_path, stage=1)) == 0
    assert train.main(tiny_args("rlfn", tmp_path, stage=2)) == 0
    state = paddle.load(str(tmp_path / "rlfn_x4_stage2" / train.STATE))
    assert state["config"]["init_from"].endswith("rlfn_x4_stage1/Best.pdparams")


def resume_args(tmp_path, run, **extra):
    return tiny_args("rdn", tmp_path, iterations=7, val_every=3, milestones="2,5", gamma=0.5, ema=0.5,
                     grad_clip=0.5, batch_size=3, run=run, **extra)


def test_interrupted_and_resumed_run_gives_identical_weights(tmp_path):
    assert train.main(resume_args(tmp_path, "straight")) == 0
    assert train.main(resume_args(tmp_path, "interrupted", stop_after=2)) == 0
    mid = paddle.load(str(tmp_path / "interrupted" / train.STATE))
    assert mid["iteration"] == 2
    assert train.main(resume_args(tmp_path, "interrupted", stop_after=3)) == 0  # 3..5, across a milestone
    assert paddle.load(str(tmp_path / "interrupted" / train.STATE))["iteration"] == 5
    assert train.main(resume_args(tmp_path, "interrupted")) == 0
    a, b = tmp_path / "straight", tmp_path / "interrupted"
    for name in ("Model.pdparams", "Best.pdparams"):
        wa, wb = weights(a / name), weights(b / name)
        assert wa.keys() == wb.keys()
        for k in wa:
            assert np.array_equal(wa[k], wb[k]), (name, k)
    sa, sb = paddle.load(str(a / train.STATE)), paddle.load(str(b / train.STATE))
    assert sa["iteration"] == sb["iteration"] == 7 and sa["best_psnr"] == sb["best_psnr"]
    assert sa["optimizer"]["LR_Scheduler"] == sb["optimizer"]["LR_Scheduler"]
    for k in sa["model"]:
        assert np.array_equal(sa["model"][k].numpy(), sb["model"][k].numpy()), k
    # a finished run: rerunning only reports
    assert train.main(resume_args(tmp_path, "straight")) == 0
    assert paddle.load(str(a / train.STATE))["iteration"] == 7


def test_resuming_a_run_saved_before_an_option_existed_names_the_new_settings(tmp_path, capsys):
    """A run started by an older version (its saved config lacks loss_range / train_mean_shift) resumes with
    the current recipe's values, and says so instead of changing its training silently."""
    args = tiny_args("rcan", tmp_path, iterations=3, val_every=3, run="old")
    assert train.main(args + ["--stop_after=1"]) == 0
    path = str(tmp_path / "old" / train.STATE)
    state = paddle.load(path)
    for key in ("loss_range", "train_mean_shift"):
        del state["config"][key]
    paddle.save(state, path)
    capsys.readouterr()
    assert train.main(args) == 0
    out = capsys.readouterr().out
    assert "saved before these options existed; they now apply: loss_range=0,255, train_mean_shift=True" in out


def test_train_mean_shift_needs_a_model_with_mean_shifts(tmp_path):
    with pytest.raises(SRError, match="no mean-shift layers; drop the option"):
        train.main(tiny_args("rdn", tmp_path, train_mean_shift="true"))
    assert not (tmp_path / "rdn_x4").exists() or not any((tmp_path / "rdn_x4").glob("*.pdparams"))


def test_gan_state_resumes_exactly(tmp_path):
    """Discriminator, its optimizer and the joint SRResNet (srgan_notebook) survive a resume bit for bit."""
    def args(run, **kw):
        return tiny_args("srgan_notebook", tmp_path, iterations=4, val_every=4, run=run, **kw)
    assert train.main(args("a")) == 0
    assert train.main(args("b", stop_after=2)) == 0
    assert train.main(args("b")) == 0
    for name in ("Model.pdparams", "SRResNet.pdparams"):
        wa, wb = weights(tmp_path / "a" / name), weights(tmp_path / "b" / name)
        assert all(np.array_equal(wa[k], wb[k]) for k in wa), name
    da = paddle.load(str(tmp_path / "a" / train.STATE))["discriminator"]
    db = paddle.load(str(tmp_path / "b" / train.STATE))["discriminator"]
    assert all(np.array_equal(da[k].numpy(), db[k].numpy()) for k in da)


def test_x4_starts_from_the_x2_model_with_init_partial(tmp_path, capsys):
    assert train.main(tiny_args("rdn", tmp_path, scale=2, iterations=1, val_every=1)) == 0
    x2 = tmp_path / "rdn_x2" / "Best.pdparams"
    with pytest.raises(SRError, match="shape mismatches.*UPNet"):
        train.main(tiny_args("rdn", tmp_path, init_from=str(x2), iterations=1, val_every=1))
    assert train.main(tiny_args("rdn", tmp_path, init_from=str(x2), init_partial="true", iterations=1,
                                val_every=1, lr=1e-12, run="from_x2")) == 0
    assert "kept random (UPNet" in capsys.readouterr().out
    a, b = weights(x2), weights(tmp_path / "from_x2" / "Model.pdparams")
    assert np.allclose(a["SFENet1.weight"], b["SFENet1.weight"], atol=1e-9)  # lr 1e-12: still the x2 weights


def test_run_folder_of_another_model_is_never_touched(tmp_path):
    assert train.main(tiny_args("rdn", tmp_path, run="mine")) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "mine").iterdir() if p.is_file()}
    with pytest.raises(SRError, match=r"holds another run \(scale=4\).*--run=NAME"):
        train.main(tiny_args("rdn", tmp_path, run="mine", scale=2))
    with pytest.raises(SRError, match="holds another run"):
        train.main(tiny_args("edsr", tmp_path, run="mine"))
    after = {p.name: p.read_bytes() for p in (tmp_path / "mine").iterdir() if p.is_file()}
    assert before == after
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "Best.pdparams").write_bytes(b"someone's weights")
    with pytest.raises(SRError, match="left untouched"):
        train.main(tiny_args("rdn", tmp_path, run="foreign"))
    assert (tmp_path / "foreign" / "Best.pdparams").read_bytes() == b"someone's weights"


def test_missing_data_folder_is_a_clear_error(tmp_path):
    with pytest.raises(SRError, match="does not exist"):
        train.main(tiny_args("rdn", tmp_path, data=str(tmp_path / "nowhere")))
    with pytest.raises(SRError, match="does not exist"):
        train.main(tiny_args("rdn", tmp_path, val_data=str(tmp_path / "nowhere")))
    assert not (tmp_path / "rdn_x4").exists()  # nothing written for a run that cannot start


def test_nan_loss_stops_with_the_iteration_and_keeps_the_last_checkpoint(tmp_path, monkeypatch, capsys):
    calls = []

    def poisoned(sr, hr):
        calls.append(1)
        value = losses.l1_loss(sr, hr)
        return value * float("nan") if len(calls) == 4 else value

    monkeypatch.setitem(losses.PIXEL_LOSSES, "l1", poisoned)
    from paddle_sr.core.errors import cli_main
    with pytest.raises(SystemExit) as exit_info:
        cli_main(lambda: train.main(tiny_args("rdn", tmp_path, iterations=6, run="nan")))
    assert exit_info.value.code != 0
    err = capsys.readouterr().err
    assert "became nan at iteration 4" in err and "iteration 2" in err
    folder = tmp_path / "nan"
    assert paddle.load(str(folder / train.STATE))["iteration"] == 2
    for name in ("Model.pdparams", "Best.pdparams"):
        assert all(np.isfinite(v).all() for v in weights(folder / name).values())


def test_batches_are_the_loaders_and_shard_disjointly_across_ranks():
    from paddle_sr.data.datasets import make_loader

    cfg = configs.resolve("rdn", {"batch_size": "4", "patch_size": "8", "data": "embedded:train"})
    ours = train.make_batches(cfg, 3, 0, 1)
    theirs = make_loader(cfg.data, cfg.scale, cfg.patch_size, cfg.batch_size, seed=cfg.seed, start_iteration=3)
    for _ in range(2):
        (a_lr, a_hr), (b_lr, b_hr) = next(ours), next(theirs)
        assert np.array_equal(a_lr, b_lr) and np.array_equal(a_hr, b_hr)
    whole = next(train.make_batches(cfg, 5, 0, 1))
    halves = [next(train.make_batches(cfg, 5, r, 2)) for r in (0, 1)]
    assert np.array_equal(np.concatenate([h[1] for h in halves]), whole[1])
    with pytest.raises(SRError, match="divisible by the number of GPUs"):
        next(train.make_batches(configs.resolve("rdn", {"batch_size": "3", "data": "embedded:train"}), 0, 0, 2))


def test_amp_needs_a_gpu(tmp_path):
    if paddle.is_compiled_with_cuda():
        pytest.skip("a GPU build runs AMP")
    with pytest.raises(SRError, match="--amp needs a GPU"):
        train.main(tiny_args("rdn", tmp_path, amp="true", device="cpu"))


def test_kill_9_never_leaves_a_torn_checkpoint(tmp_path):
    """SIGKILL a run that writes Model/Best/state every iteration, at several moments; all stay loadable."""
    args = tiny_args("rdn", tmp_path, iterations=100000, val_every=1, run="killed", sample_images=0)
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    folder = tmp_path / "killed"
    for delay in (0.0, 0.37, 0.81):
        proc = subprocess.Popen([sys.executable, "-m", "paddle_sr.train", *args], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 120
            start = paddle.load(str(folder / train.STATE))["iteration"] if (folder / train.STATE).exists() else 0
            while time.time() < deadline:  # wait until this process has written at least twice
                if (folder / train.STATE).exists():
                    try:
                        if paddle.load(str(folder / train.STATE))["iteration"] >= start + 2:
                            break
                    except Exception:
                        pytest.fail("state file unreadable while the run is alive")
                time.sleep(0.05)
            time.sleep(delay)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        model = models.create("rdn", scale=4, **TINY_MODELS["rdn"])
        for name in ("Model.pdparams", "Best.pdparams"):
            check_state_dict(model, paddle.load(str(folder / name)), name)
        assert paddle.load(str(folder / train.STATE))["iteration"] >= start + 2


def test_data_parallel_on_two_cpu_processes_matches_one_process(tmp_path):
    """paddle.distributed.launch with 2 CPU (gloo) workers: each takes half of every batch and DataParallel
    averages the gradients, so the weights match a 1-process run on the whole batch (up to summation order)."""
    if paddle.is_compiled_with_cuda():
        pytest.skip("a GPU build launches on GPUs; this checks the CPU (gloo) path")
    args = tiny_args("rdn", tmp_path, iterations=3, val_every=3, batch_size=4, device="cpu", sample_images=0)
    # An empty CUDA_VISIBLE_DEVICES (conftest) makes the launcher index an empty device list.
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    two = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                          "--log_dir", str(tmp_path / "log"), "paddle_sr/train.py", *args, "--run=two"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stdout[-2000:] + two.stderr[-2000:]
    assert "2 process(es)" in (tmp_path / "log" / "workerlog.0").read_text()
    assert train.main(args + ["--run=one"]) == 0
    a, b = weights(tmp_path / "two" / "Model.pdparams"), weights(tmp_path / "one" / "Model.pdparams")
    for k in a:
        assert np.allclose(a[k], b[k], atol=1e-5), k


# ---- the zoo's training features (issue 8) --------------------------------------------------------
def test_every_registered_model_has_a_recipe():
    trained = {r.model for r in configs.RECIPES.values()}
    # liif_edsr_baseline: the LIIF recipe with --model=liif_edsr_baseline.
    assert set(models.names()) - trained - {"liif_edsr_baseline"} == set()
    assert configs.resolve("esrgan").init_from == "output/esrgan_psnr_x4/Best.pdparams"


def test_sgd_weight_decay_and_floored_schedule():
    cfg = configs.resolve("lapsrn", {"milestones": "2,4,6", "lr": "1e-5", "lr_min": "3e-6", "weight_decay": "0.1",
                                     "momentum": "0.5"})
    layer = paddle.nn.Linear(1, 1)
    layer.weight.set_value(paddle.ones([1, 1]))
    opt, sched = train.make_optimizer(cfg, layer.parameters(), cfg.lr)
    assert isinstance(opt, paddle.optimizer.Momentum) and opt._momentum == 0.5
    lrs = []
    for _ in range(7):
        lrs.append(opt.get_lr())
        sched.step()
    assert lrs == pytest.approx([1e-5, 1e-5, 5e-6, 5e-6, 3e-6, 3e-6, 3e-6])  # 2.5e-6 floored at lr_min
    cfg = configs.resolve("lapsrn", {"milestones": "", "lr": "1.0", "weight_decay": "0.1", "momentum": "0"})
    opt, _ = train.make_optimizer(cfg, layer.parameters(), cfg.lr)
    (layer.weight * 0).sum().backward()  # zero loss gradient: only the L2 term moves the weight
    opt.step()
    assert float(layer.weight.numpy().ravel()[0]) == pytest.approx(1 - 1.0 * 0.1)
    with pytest.raises(SRError, match="--optimizer='rmsprop' is not one of adam, sgd"):
        configs.resolve("rdn", {"optimizer": "rmsprop"})
    with pytest.raises(SRError, match="loss_reduction"):
        configs.resolve("rdn", {"loss_reduction": "batch"})


def test_drcn_recursive_supervision_follows_the_alpha_schedule(tmp_path, monkeypatch):
    seen = []
    real = losses.recursive_supervision_loss

    def spy(sr, preds, hr, fn, alpha):
        seen.append((alpha, len(preds), list(preds[0].shape) == list(sr.shape) == list(hr.shape)))
        return real(sr, preds, hr, fn, alpha)

    monkeypatch.setattr(losses, "recursive_supervision_loss", spy)
    assert train.main(tiny_args("drcn", tmp_path, iterations=3, val_every=3, recursive_alpha_iters=2)) == 0
    assert seen == [(1.0, 4, True), (0.5, 4, True), (0.0, 4, True)]  # D = 4 recursions in the tiny model


def test_lapsrn_every_level_is_supervised_by_the_bicubic_downscaled_hr(tmp_path, monkeypatch):
    from paddle_sr.image.imresize import imresize

    seen = []
    real = losses.multi_level_loss

    def spy(levels, targets, fn):
        seen.append(([list(o.shape) for o in levels], [x.numpy() for x in targets]))
        return real(levels, targets, fn)

    monkeypatch.setattr(losses, "multi_level_loss", spy)
    assert train.main(tiny_args("lapsrn", tmp_path, iterations=1, val_every=1)) == 0
    cfg, _ = run_folder(tmp_path, "lapsrn", iterations=1, val_every=1)
    _, hr = next(train.make_batches(cfg, 0, 0, 1))  # the batch of iteration 1
    shapes, targets = seen[0]
    assert shapes == [[2, 3, 16, 16], [2, 3, 32, 32]]  # x2 and x4 levels of an 8x8 LR patch
    assert np.array_equal(targets[1], hr)
    for i in range(2):
        want = imresize(hr[i].transpose(1, 2, 0).astype("float64"), 0.5).transpose(2, 0, 1)
        assert np.abs(targets[0][i] - want).max() < 1e-5


def _run_twice_and_resumed(recipe, tmp_path, stop_after=2, **kw):
    def args(run, **extra):
        return tiny_args(recipe, tmp_path, run=run, **kw, **extra)
    assert train.main(args("a")) == 0
    assert train.main(args("b", stop_after=stop_after)) == 0
    assert train.main(args("b")) == 0
    return [paddle.load(str(tmp_path / r / train.STATE)) for r in ("a", "b")]


def _same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_esrgan_trains_with_the_vgg_style_ragan_discriminator_and_resumes_exactly(tmp_path, monkeypatch):
    narrow_discriminator(monkeypatch)
    sa, sb = _run_twice_and_resumed("esrgan", tmp_path, stop_after=1, iterations=2, val_every=2)
    d = sa["discriminator"]
    assert sa["config"]["gan_type"] == "ragan" and sa["config"]["discriminator"] == "vgg_style"
    assert list(d["conv0_0.weight"].shape) == [8, 3, 3, 3] and "bn4_1._mean" in d and "linear2.weight" in d
    assert np.abs(d["bn0_1._mean"].numpy()).max() > 0  # trained: BN statistics left their initial zeros
    assert _same(d, sb["discriminator"]) and _same(sa["model"], sb["model"])
    assert sa["discriminator_optimizer"].keys() == sb["discriminator_optimizer"].keys()
    for k, v in sa["discriminator_optimizer"].items():
        if hasattr(v, "numpy"):
            assert np.array_equal(v.numpy(), sb["discriminator_optimizer"][k].numpy()), k


def test_sgd_y_channel_batch_norm_recipe_resumes_exactly(tmp_path):
    """DRRN: SGD momentum, weight decay, clip, summed Euclidean loss on Y, BN statistics, a milestone."""
    sa, sb = _run_twice_and_resumed("drrn", tmp_path, iterations=4, val_every=4, milestones="3")
    assert _same(sa["model"], sb["model"]) and any("_mean" in k for k in sa["model"])
    velocity = [k for k in sa["optimizer"] if "velocity" in k]
    assert velocity and all(k.startswith("@") for k in velocity)
    for k in velocity:
        assert np.array_equal(sa["optimizer"][k].numpy(), sb["optimizer"][k].numpy()), k

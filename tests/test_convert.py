"""paddle_sr.convert: official checkpoints -> .pdparams that reproduce the official PyTorch outputs."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import paddle
import pytest

from paddle_sr import models
from paddle_sr.weights.state import load_weights, read_state_dict
from paddle_sr.convert import convert
from paddle_sr.models.convert import find_state_dict
from paddle_sr.image.io import load_image
from paddle_sr.core.errors import SRError

torch = pytest.importorskip("torch")
from tests.reference import edsr_family_torch as edsr_ref  # noqa: E402
from tests.reference import rlfn_torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RLFN_FILES = {"rlfn_x2": ("rlfn", 2), "rlfn_x4": ("rlfn", 4), "rlfn_s_x2": ("rlfn_s", 2),
              "rlfn_s_x4": ("rlfn_s", 4), "rlfn_ntire_x4": ("rlfn_ntire", 4)}


@pytest.fixture(scope="module")
def lr_photo(shared):
    """A 24x24 LR patch of a real photo on 0-255 (1, 3, 24, 24): outputs stay in the image range."""
    hr = load_image(shared / "benchmarks" / "Set5" / "HR" / "baby.png")[200:248, 200:248].astype("float32")
    return hr.reshape(24, 2, 24, 2, 3).mean(axis=(1, 3)).transpose(2, 0, 1)[None].copy()


def _suite_output(model, x255):
    """Run the converted model through the suite entry point ([-1, 1]) and return it on 0-255."""
    model.eval()
    with paddle.no_grad():
        return (model(paddle.to_tensor(x255 / 127.5 - 1)).numpy() + 1) * 127.5


@pytest.mark.parametrize("stem", sorted(RLFN_FILES))
def test_official_rlfn_checkpoint_converts_and_matches_pytorch(stem, shared, lr_photo, tmp_path):
    name, scale = RLFN_FILES[stem]
    pth = shared / "weights" / "rlfn" / f"{stem}.pth"
    out = tmp_path / f"{stem}.pdparams"
    convert(name, scale, pth, out)
    state = read_state_dict(out)
    assert state["value_range"].numpy().tolist() == [0.0, 255.0]
    # A model built for the suite range picks up the official range from the file.
    model = load_weights(models.create(name, scale=scale, value_range=(-1, 1)), out)
    official = rlfn_torch.build(name, scale)
    official.load_state_dict(torch.load(pth, map_location="cpu"))
    with torch.no_grad():
        ref = official(torch.from_numpy(lr_photo)).numpy()
    got = _suite_output(model, lr_photo)
    assert ref.shape == (1, 3, 24 * scale, 24 * scale)
    assert abs(ref.mean() - lr_photo.mean()) < 3, "official weights should reproduce the photo on 0-255"
    assert np.abs(got - ref).max() < 1e-3


@pytest.mark.parametrize("name,scale,fragments", [
    ("rlfn", 2, ["upsampler.0.weight", "[48, 52, 3, 3]", "--model rlfn --scale 4"]),
    ("rlfn_s", 4, ["conv_1.weight", "[52, 3, 3, 3]", "--model rlfn --scale 4"]),
    ("rlfn_ntire", 4, ["unexpected keys", "block_5.c1_r.weight", "--model rlfn --scale 4"]),
    ("rdn", 4, ["SFENet1.weight", "another model"]),
])
def test_checkpoint_for_another_model_or_scale_names_the_mismatch(name, scale, fragments, shared, tmp_path):
    out = tmp_path / "x.pdparams"
    with pytest.raises(SRError) as e:
        convert(name, scale, shared / "weights" / "rlfn" / "rlfn_x4.pth", out)
    for fragment in fragments:
        assert fragment in str(e.value)
    assert not out.exists()


def test_cli_error_is_one_line_and_exit_2(shared, tmp_path):
    out = tmp_path / "x.pdparams"
    r = subprocess.run([sys.executable, "-m", "paddle_sr.convert", "--model", "rlfn", "--scale", "2",
                        str(shared / "weights" / "rlfn" / "rlfn_x4.pth"), str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "upsampler.0.weight" in lines[0], r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


def test_cli_converts_with_torch_import_blocked(shared, tmp_path):
    out = tmp_path / "ntire.pdparams"
    code = ("import runpy, sys; sys.modules['torch'] = None; "
            "sys.argv = ['convert', '--model', 'rlfn_ntire', '--scale', '4', sys.argv[1], sys.argv[2]]; "
            "runpy.run_module('paddle_sr.convert', run_name='__main__')")
    pth = shared / "weights" / "rlfn" / "rlfn_ntire_x4.pth"
    r = subprocess.run([sys.executable, "-c", code, str(pth), str(out)], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "317,218 parameters" in r.stdout and "value_range (0, 255)" in r.stdout
    state = read_state_dict(out)
    official = torch.load(pth, map_location="cpu")
    assert set(state) == set(official) | {"value_range"}
    for k, v in official.items():
        np.testing.assert_array_equal(state[k].numpy(), v.numpy(), err_msg=k)


def test_existing_output_needs_force(shared, tmp_path):
    pth = shared / "weights" / "rlfn" / "rlfn_ntire_x4.pth"
    out = tmp_path / "w.pdparams"
    out.write_bytes(b"precious")
    with pytest.raises(SRError, match="--force"):
        convert("rlfn_ntire", 4, pth, out)
    assert out.read_bytes() == b"precious"
    convert("rlfn_ntire", 4, pth, out, force=True)
    assert "value_range" in read_state_dict(out)
    assert not list(tmp_path.glob("*.tmp"))


def test_unknown_or_unconvertible_model_is_named(shared, tmp_path):
    pth = shared / "weights" / "rlfn" / "rlfn_x4.pth"
    with pytest.raises(SRError, match="rlfm"):
        convert("rlfm", 4, pth, tmp_path / "a.pdparams")
    with pytest.raises(SRError, match="srresnet.*convertible: .*rlfn"):
        convert("srresnet", 4, pth, tmp_path / "a.pdparams")


# ---- layouts ------------------------------------------------------------------------------------
def test_find_state_dict_layouts():
    def same(a, b):
        return list(a) == list(b) and all(np.array_equal(a[k], b[k]) for k in a)

    w = {"a.weight": np.ones(2, "float32")}
    ema = {"a.weight": np.zeros(2, "float32")}
    module = {"module.a.weight": np.ones(2, "float32")}
    assert same(find_state_dict(w), w)
    assert same(find_state_dict(module), w)
    assert same(find_state_dict({"params": w, "params_ema": ema}), ema)  # BasicSR: EMA weights first
    assert same(find_state_dict({"params": w, "params_ema": ema}, key="params"), w)
    assert same(find_state_dict({"state_dict": module, "epoch": 3}), w)
    assert same(find_state_dict({"model": {"name": "liif", "args": {}, "sd": w}, "epoch": 1}), w)
    assert same(find_state_dict({"model": {"name": "liif", "args": {}, "sd": w}}, key="model.sd"), w)
    with pytest.raises(SRError, match="--key"):
        find_state_dict({"epoch": 1, "optimizer": "adam"})
    with pytest.raises(SRError, match="'nope'"):
        find_state_dict({"params": w}, key="nope")


def _torch_layout(sd, prefix="module."):
    return {prefix + k: v for k, v in sd.items()}


@pytest.mark.parametrize("name,scale,torch_kwargs,paddle_kwargs,zip_format", [
    ("edsr_baseline", 2, dict(n_resblocks=2, n_feats=16), dict(n_resblocks=2, n_feats=16), True),
    ("rcan", 3, dict(n_resgroups=2, n_resblocks=2, n_feats=16, reduction=4),
     dict(n_resgroups=2, n_resblocks=2, n_feats=16, reduction=4), False),
    ("rdn", 4, dict(G0=16, RDNconfig=(2, 3, 8)),
     dict(num_features=16, num_blocks=2, num_layers=3, growth_rate=8), True),
])
def test_edsr_family_official_layout_converts_and_matches(name, scale, torch_kwargs, paddle_kwargs, zip_format,
                                                          lr_photo, tmp_path):
    torch.manual_seed(scale)
    official = getattr(edsr_ref, f"make_{name}")(scale=scale, **torch_kwargs).eval()
    pth = tmp_path / f"{name}.pt"
    # DataParallel's 'module.' prefix; RCAN's official files use the legacy (non-zip) format.
    torch.save(_torch_layout(official.state_dict()), pth, _use_new_zipfile_serialization=zip_format)
    out = tmp_path / f"{name}.pdparams"
    convert(name, scale, pth, out, **paddle_kwargs)
    model = load_weights(models.create(name, scale=scale, **paddle_kwargs), out)
    x = lr_photo[:, :, :16, :16].copy()
    with torch.no_grad():
        ref = official(torch.from_numpy(x)).numpy()
    got = _suite_output(model, x)
    assert ref.shape == got.shape == (1, 3, 16 * scale, 16 * scale) and np.abs(ref).max() > 1
    assert np.abs(got - ref).max() < 1e-3


def test_liif_layout_transposes_linear_weights(tmp_path):
    kwargs = dict(encoder_kwargs=dict(n_resblocks=1, n_feats=8), hidden_list=(16, 12))
    paddle.seed(0)
    model = models.create("liif_edsr_baseline", scale=2, **kwargs)
    linear = {f"{n}.weight" for n, layer in model.named_sublayers() if isinstance(layer, paddle.nn.Linear)}
    assert len(linear) == 3
    # What LIIF's train.py saves: Linear weights [out, in], the spec under 'model', optimizer alongside.
    sd = {k: torch.from_numpy(v.numpy().T.copy() if k in linear else v.numpy())
          for k, v in model.state_dict().items() if k != "value_range"}
    ckpt = {"model": {"name": "liif", "args": {"encoder_spec": {"name": "edsr-baseline"}}, "sd": sd},
            "optimizer": {"name": "adam", "args": {"lr": 1e-4}, "sd": {"state": {}, "param_groups": []}},
            "epoch": 1000}
    pth = tmp_path / "epoch-last.pth"
    torch.save(ckpt, pth)
    out = tmp_path / "liif.pdparams"
    convert("liif_edsr_baseline", 2, pth, out, **kwargs)
    state = read_state_dict(out)
    assert state["value_range"].numpy().tolist() == [-1.0, 1.0]
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(state[k].numpy(), v.numpy(), err_msg=k)


def test_arbitrary_scale_models_convert_without_scale(tmp_path):
    """LIIF's weights serve every scale: --scale is optional for it, and required (named) for a fixed-scale model."""
    from paddle_sr.convert import main

    kwargs = dict(encoder_kwargs=dict(n_resblocks=1, n_feats=8), hidden_list=(16, 12))
    model = models.create("liif_edsr_baseline", scale=2, **kwargs)
    linear = {f"{n}.weight" for n, layer in model.named_sublayers() if isinstance(layer, paddle.nn.Linear)}
    sd = {k: torch.from_numpy(v.numpy().T.copy() if k in linear else v.numpy())
          for k, v in model.state_dict().items() if k != "value_range"}
    torch.save({"model": {"name": "liif", "args": {}, "sd": sd}}, tmp_path / "epoch-last.pth")
    main(["--model", "liif_edsr_baseline", "--arg", "encoder_kwargs={'n_resblocks': 1, 'n_feats': 8}",
          "--arg", "hidden_list=(16, 12)", str(tmp_path / "epoch-last.pth"), str(tmp_path / "liif.pdparams")])
    assert (tmp_path / "liif.pdparams").is_file()
    with pytest.raises(SRError, match="--scale is needed: rlfn has one set of weights per scale"):
        main(["--model", "rlfn", str(tmp_path / "epoch-last.pth"), str(tmp_path / "rlfn.pdparams")])


def test_official_liif_checkpoint_converts_and_renders_as_the_reference(tmp_path):
    """A checkpoint in LIIF's train.py layout, saved from the re-typed official model, renders the same."""
    from tests.reference import liif_torch

    torch.manual_seed(0)
    theirs = liif_torch.LIIF(liif_torch.TinyEDSR(n_resblocks=2, n_feats=8), hidden_list=[32, 32]).eval()
    ckpt = {"model": {"name": "liif", "args": {"encoder_spec": {"name": "edsr-baseline"}}, "sd": theirs.state_dict()},
            "epoch": 1000}
    pth = tmp_path / "epoch-best.pth"
    torch.save(ckpt, pth)
    kwargs = dict(encoder_kwargs=dict(n_resblocks=2, n_feats=8), hidden_list=(32, 32))
    ours = convert("liif_edsr_baseline", 2.5, pth, tmp_path / "liif.pdparams", **kwargs)
    ours.eval()
    lr = np.random.default_rng(0).uniform(-1, 1, (1, 3, 6, 7)).astype("float32")
    with torch.no_grad():
        ref = liif_torch.demo_render(theirs, torch.from_numpy(lr), 15, 18).numpy()
    with paddle.no_grad():
        got = ours(paddle.to_tensor(lr)).numpy()
    assert got.shape == ref.shape == (1, 3, 15, 18)
    assert np.abs(got - ref).max() * 127.5 < 1e-3  # on the 0-255 scale


# ---- the zoo (issue 8) ----------------------------------------------------------------------------
from paddle_sr.convert import NATIVE_RANGES  # noqa: E402
from tests.reference import classic_torch, swinir_san_torch  # noqa: E402

ZOO_SMALL = {"srcnn": {}, "espcn": {}, "vdsr": dict(num_layers=3), "drcn": dict(num_recursions=2, num_features=8),
             "drrn": dict(num_units=2, num_features=8), "lapsrn": dict(depth=1, n_feats=8),
             "esrgan": dict(num_block=1, num_feat=8, num_grow_ch=4), "wdsr_a": dict(n_resblocks=1),
             "wdsr_b": dict(n_resblocks=1), "swinir": dict(embed_dim=12, depths=(1,), num_heads=(3,)),
             "swinir_light": dict(embed_dim=12, depths=(1,), num_heads=(3,)),
             "san": dict(n_resgroups=1, n_resblocks=1, n_feats=8, reduction=4)}


@pytest.mark.parametrize("name", sorted(ZOO_SMALL))
def test_zoo_native_range_is_the_models_default(name):
    model = models.create(name, scale=models.scales(name)[0], **ZOO_SMALL[name])
    assert tuple(model.value_range.numpy().tolist()) == NATIVE_RANGES[name]


def test_official_batch_norm_layout_converts_and_matches(tmp_path):
    """DRRN as its official Caffe prototxt (BN before every ReLU), saved by PyTorch: running_mean /
    running_var / num_batches_tracked in the file."""
    torch.manual_seed(0)
    official = classic_torch.DRRNCaffe(units=3, channels=16)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in official.modules():  # non-trivial statistics, so a missed or swapped one shows
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=gen) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=gen) * 0.2 - 0.1)
                m.num_batches_tracked.fill_(123)
    official.eval()
    pth = tmp_path / "drrn.pth"
    torch.save({"state_dict": _torch_layout(official.state_dict())}, pth)
    assert any(k.endswith("num_batches_tracked") for k in official.state_dict())
    out = tmp_path / "drrn.pdparams"
    convert("drrn", 4, pth, out, num_units=3, num_features=16)
    state = read_state_dict(out)
    assert "bn1.0._mean" in state and not any("running" in k or "num_batches" in k for k in state)
    np.testing.assert_array_equal(state["bn_output._variance"].numpy(), official.bn_output.running_var.numpy())
    model = load_weights(models.create("drrn", scale=4, num_units=3, num_features=16), out)
    model.eval()
    y = np.random.default_rng(0).uniform(0, 1, (2, 1, 24, 24)).astype("float32")  # upsampled Y, native [0, 1]
    with torch.no_grad():
        ref = official(torch.from_numpy(y)).numpy()
    with paddle.no_grad():
        got = model.forward_y(paddle.to_tensor(y)).numpy()
    assert np.abs(ref - y).max() > 0.05  # the network changes its input: the comparison means something
    assert np.abs(got - ref).max() * 255 < 1e-3


def test_swinir_official_layout_drops_attn_mask_and_matches(tmp_path):
    cfg = dict(embed_dim=24, depths=(2, 2), num_heads=(3, 3), window_size=8, mlp_ratio=2.0)
    torch.manual_seed(2)
    official = swinir_san_torch.SwinIR(img_size=16, upscale=2, img_range=1.0, upsampler="pixelshuffle",
                                       **{k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()})
    with torch.no_grad():
        for n, p in official.named_parameters():
            if n.endswith("bias") or "norm" in n:
                p.add_(torch.empty_like(p).uniform_(-0.2, 0.2))
    official.eval()
    assert any(k.endswith(".attn_mask") for k in official.state_dict())
    pth = tmp_path / "swinir.pth"
    torch.save({"params": official.state_dict()}, pth)  # KAIR / BasicSR layout
    out = tmp_path / "swinir.pdparams"
    convert("swinir", 2, pth, out, **cfg)
    assert read_state_dict(out)["value_range"].numpy().tolist() == [0.0, 1.0]
    model = load_weights(models.create("swinir", scale=2, **cfg), out)
    model.eval()
    x = np.random.default_rng(2).uniform(0, 1, (1, 3, 12, 12)).astype("float32")
    with torch.no_grad():
        ref = swinir_san_torch.swinir_test_pad(official, torch.from_numpy(x), 8, 2).numpy()
    got = (_suite_output(model, x * 255) / 255)  # through the suite entry point, on [0, 1]
    assert ref.shape == got.shape == (1, 3, 24, 24) and np.abs(ref - 0.5).max() > 0.1
    assert np.abs(got - ref).max() * 255 < 1e-3


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_whole_pickled_vdsr_model_converts_without_torch(tmp_path, zip_format):
    """twtygqyy/pytorch-vdsr saves ``{'epoch': 50, 'model': <Net>}`` (the module itself, not its state
    dict). The converter rebuilds it as inert records (nothing imported or run), in a process where
    torch cannot even be imported, and the Paddle port then computes what the PyTorch module does."""
    torch.manual_seed(5)
    official = classic_torch.VDSR(num_of_layer=3)
    official.eval()
    pth = tmp_path / "model_epoch_50.pth"
    torch.save({"epoch": 50, "model": official}, pth, _use_new_zipfile_serialization=zip_format)
    out = tmp_path / "vdsr.pdparams"
    code = ("import runpy, sys; sys.modules['torch'] = None; "
            "sys.argv = ['convert', '--model', 'vdsr', '--scale', '2', '--arg', 'num_layers=5', sys.argv[1], sys.argv[2]]; "
            "runpy.run_module('paddle_sr.convert', run_name='__main__'); "
            "assert not [m for m in sys.modules if m.startswith('tests.reference') or m == 'reference.classic_torch']")
    r = subprocess.run([sys.executable, "-c", code, str(pth), str(out)], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    state = read_state_dict(out)
    want = official.state_dict()
    assert set(state) == set(want) | {"value_range"} and "residual_layer.2.conv.weight" in want
    for k, v in want.items():
        np.testing.assert_array_equal(state[k].numpy(), v.numpy(), err_msg=k)
    model = load_weights(models.create("vdsr", scale=2, num_layers=5), out)
    model.eval()
    y = np.random.default_rng(5).uniform(0, 1, (1, 1, 20, 20)).astype("float32")
    with torch.no_grad():
        ref = official(torch.from_numpy(y)).numpy()
    with paddle.no_grad():
        got = model.forward_y(paddle.to_tensor(y)).numpy()
    assert np.abs(ref - y).max() > 0.01
    assert np.abs(got - ref).max() * 255 < 1e-3

"""Every registered model, the moment it exists: shapes at every scale, gradients, save/load, counts."""
import numpy as np
import paddle
import pytest

from paddle_sr import models
from paddle_sr.core.errors import SRError

# Parameter counts of the official implementations (sum of numel over model.parameters()).
OFFICIAL_COUNTS = {
    ("rdn", 2): 22_123_395, ("rdn", 3): 22_308_035, ("rdn", 4): 22_271_107,
    ("rcan", 2): 15_444_667, ("rcan", 3): 15_629_307, ("rcan", 4): 15_592_379,
    ("edsr", 2): 40_729_627, ("edsr", 3): 43_680_027, ("edsr", 4): 43_089_947,
    ("edsr_baseline", 2): 1_369_883, ("edsr_baseline", 3): 1_554_523, ("edsr_baseline", 4): 1_517_595,
    ("liif", 4): 22_320_835, ("liif_edsr_baseline", 4): 1_567_323,
    ("rlfn", 2): 526_856, ("rlfn", 4): 543_740, ("rlfn_s", 4): 470_208, ("rlfn_ntire", 4): 317_218,
    ("esrgan", 4): 16_697_987, ("esrgan", 2): 16_703_171,  # BasicSR RRDBNet
    ("wdsr_a", 2): 1_190_100,  # official WDSR README (baseline config)
    ("swinir", 2): 11_752_487, ("swinir", 3): 11_937_127, ("swinir", 4): 11_900_199, ("swinir", 8): 12_047_911,
    ("swinir_light", 2): 910_152, ("swinir_light", 3): 918_267, ("swinir_light", 4): 929_628,
    ("ignn", 2): 47_152_233, ("ignn", 3): 50_102_633, ("ignn", 4): 49_512_553,  # = the official class
    ("san", 2): 15_712_800, ("san", 3): 15_897_440, ("san", 4): 15_860_512, ("san", 8): 16_008_224,
    ("imdn", 2): 694_404, ("imdn", 3): 703_059, ("imdn", 4): 715_176,
    # the official multi-scale class (all three upsamplers + frozen mean shifts) at every scale
    ("carn", 2): 1_591_963, ("carn", 4): 1_591_963, ("carn_m", 2): 414_811, ("carn_m", 3): 414_811,
    ("carn_m", 4): 414_811,
}
ARBITRARY_SCALES = (2, 2.5, 4)  # what an arbitrary-scale model (scales() is None) is tested at
# Reduced depth/width for the models whose full size costs seconds per CPU forward/backward at 12x12
# (every code path is still exercised; the full size is covered by the parameter-count test).
from tiny import SMALL as REDUCED  # noqa: E402  (the one table of reduced settings)


def test_the_tiny_table_covers_every_registered_model():
    from tiny import SMALL, TINY

    assert set(TINY) == set(models.names())
    assert set(SMALL) <= set(models.names())


def _create(name, scale):
    return models.create(name, scale=scale, **REDUCED.get(name, {}))


def cases():
    for name in models.names():
        for scale in models.scales(name) or ARBITRARY_SCALES:
            yield pytest.param(name, scale, id=f"{name}-x{scale}")


def _input(seed=0, n=1, size=12):
    rng = np.random.default_rng(seed)
    return paddle.to_tensor(rng.uniform(-1, 1, (n, 3, size, size)).astype("float32"))


@pytest.mark.parametrize("name,scale", list(cases()))
def test_forward_shape(name, scale):
    paddle.seed(0)
    model = _create(name, scale)
    model.eval()
    with paddle.no_grad():
        out = model(_input())
    side = int(round(12 * scale))
    assert tuple(out.shape) == (1, 3, side, side)
    assert np.isfinite(out.numpy()).all()


@pytest.mark.parametrize("name", models.names())
def test_every_trainable_parameter_gets_a_gradient(name):
    paddle.seed(0)
    scale = (models.scales(name) or ARBITRARY_SCALES)[-1]
    model = _create(name, scale)
    model.train()
    out = model(_input(n=2))
    weights = paddle.to_tensor(np.random.default_rng(1).normal(size=out.shape).astype("float32"))
    (out * weights).sum().backward()
    # None = not connected to the output. An exactly-zero gradient can be a legitimately inactive
    # ReLU (RCAN's 64->4 channel-attention squeeze has all 4 units off in a few of its 200 layers at
    # init, as in the official code), so only the total must be non-zero.
    trainable = [(n, p) for n, p in model.named_parameters() if not p.stop_gradient]
    missing = [n for n, p in trainable if p.grad is None]
    assert not missing, f"parameters without gradient: {missing[:10]}"
    assert all(np.isfinite(p.grad.numpy()).all() for _, p in trainable)
    assert sum(float(p.grad.abs().sum()) for _, p in trainable) > 0


@pytest.mark.parametrize("name", models.names())
def test_save_load_round_trip_is_exact(name, tmp_path):
    scale = (models.scales(name) or ARBITRARY_SCALES)[0]
    paddle.seed(1)
    a = _create(name, scale)
    a.eval()
    path = str(tmp_path / "Model.pdparams")
    paddle.save(a.state_dict(), path)
    paddle.seed(2)
    b = _create(name, scale)
    b.eval()
    x = _input(3)
    with paddle.no_grad():
        before = b(x).numpy()
        b.set_state_dict(paddle.load(path))
        ref, got = a(x).numpy(), b(x).numpy()
    assert not np.array_equal(before, ref), "two seeds gave the same model: the test cannot tell"
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("key", sorted(OFFICIAL_COUNTS), ids=lambda k: f"{k[0]}-x{k[1]}")
def test_parameter_count_matches_official(key):
    name, scale = key
    if name not in models.names():
        pytest.fail(f"{name} is not registered")
    assert models.count_parameters(models.create(name, scale=scale)) == OFFICIAL_COUNTS[key]


def test_rdn_encoder_count_and_names():
    enc = models.create("rdn", scale=2, no_upsampling=True)
    assert models.count_parameters(enc) == 21_973_952
    keys = set(enc.state_dict())
    assert {"SFENet1.weight", "SFENet2.bias", "RDBs.15.convs.7.conv.0.weight", "RDBs.0.LFF.weight",
            "GFF.0.weight", "GFF.1.bias"} <= keys
    assert not any(k.startswith("UPNet") for k in keys)
    with paddle.no_grad():
        assert tuple(enc(_input()).shape) == (1, 64, 12, 12)


def test_unknown_model_lists_known_names():
    with pytest.raises(SRError) as e:
        models.create("rdm", scale=4)
    assert "rdn" in str(e.value) and "rdm" in str(e.value)


@pytest.mark.parametrize("name", [n for n in models.names() if models.scales(n)])
def test_unsupported_scale_names_supported_values(name):
    with pytest.raises(SRError) as e:
        models.create(name, scale=5)
    msg = str(e.value)
    assert "5" in msg and all(str(s) in msg for s in models.scales(name))


def test_value_range_buffer_maps_native_range():
    """A model on [0, 255] sees 255-range input and its output is mapped back to [-1, 1]."""
    model = models.create("rdn", scale=2, config="A", num_blocks=1, num_layers=1, growth_rate=4,
                          num_features=8, value_range=(0, 255))
    model.eval()
    x = _input()
    with paddle.no_grad():
        native = model.forward_native((x + 1) * 127.5).numpy()
        out = model(x).numpy()
    np.testing.assert_allclose(out, native / 127.5 - 1, atol=1e-5)
    assert "value_range" in model.state_dict()

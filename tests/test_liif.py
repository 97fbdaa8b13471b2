"""LIIF port vs the re-typed official PyTorch code (tests/reference/liif_torch.py), same weights.

A tiny EDSR encoder (2 blocks, 8 features) keeps CPU time low; the MLP is the official 4 x 256.
"""
import numpy as np
import paddle
import pytest

from paddle_sr import models
from paddle_sr.core.errors import SRError
from paddle_sr.models.common import make_coord
from paddle_sr.models.liif import LIIF

torch = pytest.importorskip("torch")
from tests.reference import liif_torch as ref  # noqa: E402
from tests.reference import torch_state_to_numpy  # noqa: E402

TINY = {"n_resblocks": 2, "n_feats": 8}
FLAGS = ["local_ensemble", "feat_unfold", "cell_decode"]


def _pair(seed=0, hidden_list=(256, 256, 256, 256), **flags):
    """A Paddle LIIF and the torch reference holding the same random weights."""
    torch.manual_seed(seed)
    theirs = ref.LIIF(ref.TinyEDSR(**TINY), hidden_list=hidden_list, **flags).eval()
    ours = models.create("liif_edsr_baseline", scale=2, encoder_kwargs=TINY, hidden_list=hidden_list, **flags)
    ours.eval()
    linear = [k for k in theirs.state_dict() if k.startswith("imnet.") and k.endswith(".weight")]
    state = torch_state_to_numpy(theirs, transpose=linear)  # Linear: torch [out, in] -> Paddle [in, out]
    own = ours.state_dict()
    assert set(own) - set(state) == {"value_range", "encoder.value_range"} and set(state) <= set(own)
    assert all(list(v.shape) == list(own[k].shape) for k, v in state.items())
    ours.set_state_dict({**state, "value_range": own["value_range"], "encoder.value_range": own["encoder.value_range"]})
    return ours, theirs


def _lr(seed=0, shape=(2, 3, 7, 9)):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype("float32")


def _queries(h, w, n=2, seed=1):
    """Random points, exact feature-cell borders and centres (nearest-sampling ties), corners."""
    rng = np.random.default_rng(seed)
    borders = np.meshgrid(np.arange(h + 1) / h * 2 - 1, np.arange(w + 1) / w * 2 - 1, indexing="ij")
    pts = [rng.uniform(-1, 1, (150, 2)), np.stack(borders, -1).reshape(-1, 2), make_coord((h, w)),
           [[-1, -1], [1, 1], [-1, 1]]]
    coord = np.concatenate(pts).astype("float32")
    cell = rng.uniform(0.05, 0.5, coord.shape).astype("float32")
    return np.stack([coord] * n), np.stack([cell] * n)


def _max_diff(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


def test_make_coord_is_bit_identical_to_official():
    for shape, ranges in [((7, 9), None), ((1, 3), None), ((48, 30), None), ((510, 339), None),
                          ((5, 6), [(0, 1), (-0.3, 0.7)])]:
        for flatten in (True, False):
            got = make_coord(shape, ranges, flatten)
            want = ref.make_coord(shape, ranges, flatten).numpy()
            assert got.dtype == np.float32
            np.testing.assert_array_equal(got, want)


def test_paddle_query_grid_and_output_size_match_python():
    # forward builds these with Paddle ops so it exports with dynamic H/W; eager must not change.
    from paddle_sr.models.liif import _coord_axis, _coord_grid, _f64, _round

    for n in (1, 2, 3, 7, 48, 339, 510, 2040):
        np.testing.assert_array_equal(_coord_axis(n).numpy(), ref.make_coord((n,)).numpy().ravel())
    np.testing.assert_array_equal(_coord_grid(7, 9).numpy(), ref.make_coord((7, 9)).numpy())
    for n in range(1, 60):  # half to even (5 x 2.5 -> 12) and float64 products (25 x 2.3 = 57.4999... -> 57)
        for s in (2.5, 2.3, 3.3, 1.5, 1.25, 6.02):
            assert int(_round(_f64(n) * _f64(s))) == round(n * s), (n, s)


@pytest.mark.parametrize("flags", [(True, True, True), (False, True, True), (True, False, True),
                                   (True, True, False), (False, False, False)],
                         ids=lambda f: "-".join(n for n, on in zip(FLAGS, f) if on) or "none")
def test_query_rgb_matches_official(flags):
    ours, theirs = _pair(**dict(zip(FLAGS, flags)))
    lr = _lr()
    coord, cell = _queries(7, 9)
    with paddle.no_grad(), torch.no_grad():
        feat = ours.gen_feat(paddle.to_tensor(lr))
        assert _max_diff(feat.numpy(), theirs.gen_feat(torch.tensor(lr)).numpy()) < 1e-5
        got = ours.query_rgb(feat, paddle.to_tensor(coord), paddle.to_tensor(cell)).numpy()
        want = theirs.query_rgb(torch.tensor(coord), torch.tensor(cell)).numpy()
    assert got.shape == want.shape == (2, len(coord[0]), 3)
    assert _max_diff(got, want) < 1e-4


def test_without_mlp_is_official_nearest_lookup():
    """``hidden_list=None`` (official ``imnet_spec=None``): grid_sample nearest, zeros outside."""
    ours, theirs = _pair(hidden_list=None)
    lr = _lr()
    coord, _ = _queries(7, 9)
    coord = np.concatenate([coord, np.full((2, 2, 2), 1.5, "float32")], axis=1)  # outside -> zeros
    with paddle.no_grad(), torch.no_grad():
        got = ours.query_rgb(ours.gen_feat(paddle.to_tensor(lr)), paddle.to_tensor(coord)).numpy()
        theirs.gen_feat(torch.tensor(lr))
        want = theirs.query_rgb(torch.tensor(coord)).numpy()
    assert _max_diff(got, want) < 1e-5
    assert np.all(got[:, -2:] == 0)


@pytest.mark.parametrize("out_size", [(17, 23), (7, 9), (30, 11)])
def test_render_matches_official_demo(out_size):
    ours, theirs = _pair()
    lr = _lr(seed=3)
    with paddle.no_grad():
        got = ours.render(paddle.to_tensor(lr), out_size=out_size, bsize=100).numpy()
    want = ref.demo_render(theirs, torch.tensor(lr), *out_size, bsize=100).numpy()
    assert got.shape == (2, 3) + out_size
    assert _max_diff(got, want) < 1e-4


def test_forward_is_render_at_non_integer_scale():
    ours, theirs = _pair()
    ours.scale = 2.5
    lr = _lr(seed=4, shape=(1, 3, 5, 7))
    with paddle.no_grad():
        out = ours(paddle.to_tensor(lr)).numpy()
        rendered = ours.render(paddle.to_tensor(lr), scale=2.5).numpy()
    assert out.shape == (1, 3, round(5 * 2.5), round(7 * 2.5))  # (12, 18): Python round, as official test.py
    np.testing.assert_array_equal(out, rendered)
    want = ref.demo_render(theirs, torch.tensor(lr), 12, 18).numpy()
    assert _max_diff(out, want) < 1e-4


def test_batched_render_equals_unbatched():
    ours, _ = _pair(seed=5)
    lr = paddle.to_tensor(_lr(seed=5))
    with paddle.no_grad():
        whole = ours.render(lr, out_size=(13, 19), bsize=None).numpy()
        batched = ours.render(lr, out_size=(13, 19), bsize=37).numpy()  # 247 queries: ragged last batch
    assert _max_diff(whole, batched) < 1e-6


def test_rdn_liif_names_shapes_and_encoder_wiring():
    tiny_rdn = {"num_blocks": 2, "num_layers": 2, "growth_rate": 8, "num_features": 16}
    model = models.create("liif", scale=3.3, encoder_kwargs=tiny_rdn)
    state = model.state_dict()
    assert model.scale == 3.3 and models.scales("liif") is None
    assert [k for k in state if k.startswith("imnet.")] == [f"imnet.layers.{i}.{p}" for i in (0, 2, 4, 6, 8)
                                                            for p in ("weight", "bias")]
    assert list(state["imnet.layers.0.weight"].shape) == [16 * 9 + 4, 256]
    assert {"encoder.SFENet1.weight", "encoder.RDBs.1.LFF.weight", "encoder.GFF.1.bias"} <= set(state)
    # PyTorch's default init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with non-zero biases, as official training.
    for key, fan_in in [("imnet.layers.0", 16 * 9 + 4), ("encoder.SFENet1", 3 * 9)]:
        bound = 1 / np.sqrt(fan_in)
        w, b = state[key + ".weight"].numpy(), state[key + ".bias"].numpy()
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound and np.abs(b).max() > 0
    lr = paddle.to_tensor(_lr(shape=(1, 3, 6, 5)))
    model.eval()
    with paddle.no_grad():
        np.testing.assert_array_equal(model.gen_feat(lr).numpy(), model.encoder(lr).numpy())
        assert tuple(model(lr).shape) == (1, 3, 20, 16)  # round(6 * 3.3), round(5 * 3.3)


def test_full_size_liif_in_dim():
    # The official configs: 64 features x 9 (unfold) + 2 (coord) + 2 (cell) = 580 MLP inputs.
    for flags, in_dim in [({}, 580), ({"feat_unfold": False}, 68), ({"cell_decode": False}, 578)]:
        model = LIIF(models.edsr.EDSR(n_resblocks=1, n_feats=64, no_upsampling=True), **flags)
        assert model.imnet.layers[0].weight.shape == [in_dim, 256]


@pytest.mark.parametrize("kwargs", [{"out_size": (4, 4), "scale": 2}, {"scale": 0}, {"out_size": (0, 5)},
                                    {"bsize": 0}])
def test_render_rejects_bad_arguments(kwargs):
    model = models.create("liif_edsr_baseline", scale=2, encoder_kwargs=TINY, hidden_list=(8,))
    with pytest.raises(SRError):
        model.render(paddle.to_tensor(_lr(shape=(1, 3, 4, 4))), **kwargs)

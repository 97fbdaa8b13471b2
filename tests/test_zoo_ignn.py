"""IGNN port against the official PyTorch code (tests/reference/ignn_torch.py).

Names, shapes and parameter counts on the official configuration; numerics (son, k-NN graph in
both search modes and both official distance paths, aggregation, full forward) on a reduced trunk.
Equal outputs need inputs without float-level ties between the k-th and (k+1)-th nearest patch
(such ties resolve arbitrarily, in the official CUDA code too); the seeds below have none.
"""
import numpy as np
import paddle
import pytest

from paddle_sr import models
from paddle_sr.models.ignn import IGNN, MatlabBicubicDownsample

torch = pytest.importorskip("torch")
from tests.reference import load_torch_state  # noqa: E402
from tests.reference import ignn_torch as ref  # noqa: E402

# sum(p.numel() for p in IGNN().parameters()) of the official class (measured with the reference;
# the shared VGG counts once, as in PyTorch).
COUNTS = {2: 47_152_233, 3: 50_102_633, 4: 49_512_553}
SMALL = dict(n_resblocks=2, n_feats=16)
TOL = 1e-3  # max abs difference on 0-255


@pytest.fixture(autouse=True)
def _official_cfg():
    ref.reset_cfg()
    yield
    ref.reset_cfg()  # index_neighbours may have switched the window off globally


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_parameter_counts(scale):
    assert models.count_parameters(models.create("ignn", scale=scale)) == COUNTS[scale]


def test_official_names_and_shapes():
    ref.reset_cfg(scale=4)
    tmodel = ref.IGNN()
    assert sum(p.numel() for p in tmodel.parameters()) == COUNTS[4]
    tstate = tmodel.state_dict()
    own = models.create("ignn", scale=4).state_dict()
    assert set(own) - {"value_range"} == set(tstate)
    assert {"vggnet.model.2.weight", "graph.embedcnn.model.2.weight", "gcn.weightnet_hr.1.body.2.bias",
            "gcn.knn_downsample.0.0.weight", "tail.0.0.weight", "tail.1.0.weight", "fuse_up.1.0.bias"} <= set(own)
    for k, v in tstate.items():
        assert list(own[k].shape) == list(v.shape), k


def _pair(scale, window=30, train=False, seed=0):
    ref.reset_cfg(scale=scale, n_resblocks=SMALL["n_resblocks"], n_feats=SMALL["n_feats"], window=window)
    torch.manual_seed(seed)
    tmodel = ref.IGNN().train(train)
    model = IGNN(scale=scale, window_size=window, **SMALL)
    model.train() if train else model.eval()
    load_torch_state(model, tmodel)
    return tmodel, model


def _lr(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def _official(tmodel, lr):
    son = torch.stack([ref.make_son(torch.from_numpy(im)) for im in lr])
    with torch.no_grad():
        return tmodel(son, torch.from_numpy(lr)).numpy()


def _port(model, lr):
    with paddle.no_grad():
        return model.forward_native(paddle.to_tensor(lr)).numpy()


@pytest.mark.parametrize("scale,size", [(2, (24, 20)), (3, (24, 20)), (4, (24, 20)), (2, (26, 21))],
                         ids=["x2", "x3-W-not-multiple", "x4", "x2-odd"])
def test_matches_official_full_search(scale, size):
    tmodel, model = _pair(scale)
    lr = _lr((2, 3) + size)
    expected = _official(tmodel, lr)
    assert ref.cfg.NETWORK.WITH_WINDOW is False  # a son this small: the official full search
    got = _port(model, lr)
    assert got.shape == expected.shape == (2, 3, size[0] * scale, size[1] * scale)
    assert np.abs(got - expected).max() < TOL


@pytest.mark.parametrize("scale,train", [(2, False), (3, True), (4, False)], ids=["x2-eval", "x3-train", "x4-eval"])
def test_matches_official_windowed_search(scale, train):
    # window 4 < the son's 6x7 patch grid: the official windowed k-NN (eval: the indexed-matmul path,
    # train: full distances gathered by the index), here as at full size with window 30.
    tmodel, model = _pair(scale, window=4, train=train)
    lr = _lr((2, 3, 24, 30), seed=1)
    expected = _official(tmodel, lr)
    assert ref.cfg.NETWORK.WITH_WINDOW is True
    assert np.abs(_port(model, lr) - expected).max() < TOL


def test_inputs_the_official_cannot_run_are_padded():
    tmodel, model = _pair(2)
    lr = _lr((1, 3, 25, 23), seed=3)  # seed 2 has a float-level tie (4e-6 on 18.7) at the 5th neighbour
    with pytest.raises(RuntimeError):  # son and pixel-unshuffled patch grids differ: the gather overruns
        _official(tmodel, lr)
    ref.reset_cfg(scale=2, n_resblocks=2, n_feats=16)
    # Only W: H = 25 gives 6 patch rows for both the son (13 rows) and the unshuffled features (12),
    # W = 23 gives 6 vs 5 columns, so W is padded to the next multiple of 2.
    padded = np.pad(lr, ((0, 0), (0, 0), (0, 0), (0, 1)), mode="edge")
    expected = _official(tmodel, padded)[:, :, :50, :46]
    assert np.abs(_port(model, lr) - expected).max() < TOL


def test_tiny_input_is_padded_to_enough_candidates():
    tmodel, model = _pair(3)
    lr = _lr((1, 3, 12, 12), seed=3)
    with pytest.raises(RuntimeError):  # 2x2 son patches < k = 5
        _official(tmodel, lr)
    ref.reset_cfg(scale=3, n_resblocks=2, n_feats=16)
    padded = np.pad(lr, ((0, 0), (0, 0), (0, 6), (0, 6)), mode="edge")  # 18x18: 3x3 son patches
    expected = _official(tmodel, padded)[:, :, :36, :36]
    assert np.abs(_port(model, lr) - expected).max() < TOL


@pytest.mark.parametrize("s,size", [(2, (13, 10)), (3, (17, 12))])
def test_son_is_the_official_imresize(s, size):
    img = _lr((3,) + size, seed=4)
    expected = (ref.imresize(torch.from_numpy(img) / 255.0, 1.0 / s) * 255).numpy()
    got = MatlabBicubicDownsample(s)(paddle.to_tensor(img[None])).numpy()[0]
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-3


@pytest.mark.parametrize("layout", ["vision", "paddleclas"])
def test_vgg_weights_from_file(layout, tmp_path):
    rng = np.random.default_rng(5)
    w1, w2 = rng.normal(size=(64, 3, 3, 3)).astype("float32"), rng.normal(size=(64, 64, 3, 3)).astype("float32")
    b1, b2 = rng.normal(size=64).astype("float32"), rng.normal(size=64).astype("float32")
    if layout == "vision":  # paddle.vision vgg19: torchvision indices, with biases
        state = {"features.0.weight": w1, "features.0.bias": b1, "features.2.weight": w2, "features.2.bias": b2}
    else:  # PaddleClas VGG19 (no conv biases)
        state = {"_conv_block_1._conv_1.weight": w1, "_conv_block_1._conv_2.weight": w2}
    path = str(tmp_path / "vgg19.pdparams")
    paddle.save({k: paddle.to_tensor(v) for k, v in state.items()}, path)
    model = models.create("ignn", scale=2, vgg_weights=path, **SMALL)
    vgg = model.graph.embedcnn  # the same layer as model.vggnet
    assert vgg is model.vggnet
    np.testing.assert_array_equal(vgg.model[0].weight.numpy(), w1)
    np.testing.assert_array_equal(vgg.model[2].weight.numpy(), w2)
    np.testing.assert_array_equal(vgg.model[2].bias.numpy(), b2 if layout == "vision" else np.zeros(64, "float32"))
    assert all(p.stop_gradient for p in vgg.parameters())


def test_without_diff_is_refused():
    with pytest.raises(ValueError, match="with_diff"):
        models.create("ignn", scale=2, with_diff=False, **SMALL)

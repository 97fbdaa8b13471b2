"""SRResNet / SRGAN discriminator (notebook compatibility, paper structure) and the VGG19 feature extractor
(weight layouts, download, normalisation, freezing)."""
import hashlib
import http.server
import os
import socket
import threading

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
import pytest

from paddle_sr import models
from paddle_sr.weights.state import check_state_dict
from paddle_sr.core.errors import SRError
from paddle_sr.models import vgg
from paddle_sr.models.srresnet import SRGANDiscriminator
from paddle_sr.models.vgg import VGG19FeatureExtractor


def _x(shape, seed=0):
    return paddle.to_tensor(np.random.default_rng(seed).uniform(-1, 1, shape).astype("float32"))


def _randomise(layer, seed):
    """Random values for every entry of the state dict, BN statistics included (variance positive)."""
    rng = np.random.default_rng(seed)
    state = {}
    for k, v in layer.state_dict().items():
        a = rng.normal(0, 0.05, v.shape).astype("float32")
        state[k] = np.abs(a) + 0.5 if k.endswith("_variance") else a
    layer.set_state_dict(state)


# --- The SRGAN notebook's generator and discriminator, rebuilt with its layer names and structure ---

class NotebookRB(nn.Layer):
    def __init__(self, channel=64):
        super().__init__()
        self.conv1 = nn.Conv2D(channel, channel, 3, 1, 1)
        self.bn1 = nn.BatchNorm2D(channel)
        self.prelu = nn.ReLU()
        self.conv2 = nn.Conv2D(channel, channel, 3, 1, 1)
        self.bn2 = nn.BatchNorm2D(channel)

    def forward(self, x):
        return x + self.bn2(self.conv2(self.prelu(self.bn1(self.conv1(x)))))


class NotebookUS(nn.Layer):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = nn.Conv2D(in_channels, out_channels, 3, 1, 1)
        self.ps = nn.PixelShuffle(2)
        self.prelu = nn.ReLU()

    def forward(self, x):
        return self.prelu(self.ps(self.conv(x)))


class NotebookG(nn.Layer):
    def __init__(self, channel=64, num_rb=16):
        super().__init__()
        self.conv1 = nn.Conv2D(3, channel, 9, 1, 4)
        self.prelu = nn.ReLU()
        self.rb_list = [self.add_sublayer("rb_%d" % i, NotebookRB(channel)) for i in range(num_rb)]
        self.conv2 = nn.Conv2D(channel, channel, 3, 1, 1)
        self.bn = nn.BatchNorm2D(channel)
        self.us1 = NotebookUS(channel, channel * 4)
        self.us2 = NotebookUS(channel, channel * 4)
        self.conv3 = nn.Conv2D(channel, 3, 9, 1, 4)

    def forward(self, x):
        x = self.prelu(self.conv1(x))
        y = x
        for rb in self.rb_list:
            y = rb(y)
        y = x + self.bn(self.conv2(y))
        return self.conv3(self.us2(self.us1(y)))


class NotebookCNA(nn.Layer):
    def __init__(self, cin, cout, k=3, s=1, p=1):
        super().__init__()
        self.conv = nn.Conv2D(cin, cout, k, s, p)
        self.bn = nn.BatchNorm(cout)
        self.lrelu = nn.LeakyReLU()

    def forward(self, x):
        return self.lrelu(self.bn(self.conv(x)))


class NotebookD(nn.Layer):
    """The notebook's D, including its second ``add_sublayer('fc1', ...)``."""

    def __init__(self, hr_patch, channel=64):
        super().__init__()
        c, L = channel, []
        L.append(self.add_sublayer("conv", nn.Conv2D(3, c, 3, 1, 1)))
        L.append(self.add_sublayer("lrelu1", nn.LeakyReLU()))
        for i, (a, b, s) in enumerate([(c, c, 2), (c, 2 * c, 1), (2 * c, 2 * c, 2), (2 * c, 4 * c, 1),
                                       (4 * c, 4 * c, 2), (4 * c, 8 * c, 1), (8 * c, 8 * c, 2)]):
            pad = [1, 0, 1, 0] if s == 2 else 1
            L.append(self.add_sublayer(f"cna{i + 1}", NotebookCNA(a, b, 3, s, pad)))
        L.append(self.add_sublayer("flatten", nn.Flatten(start_axis=1, stop_axis=3)))
        L.append(self.add_sublayer("fc1", nn.Linear(hr_patch // 16 * hr_patch // 16 * c * 8, c * 16)))
        L.append(self.add_sublayer("lrelu2", nn.LeakyReLU()))
        L.append(self.add_sublayer("fc1", nn.Linear(c * 16, 1)))
        L.append(self.add_sublayer("sigmoid", nn.Sigmoid()))
        self.layer_list = L

    def forward(self, x):
        for layer in self.layer_list:
            x = layer(x)
        return x


# --- SRResNet ---

def test_notebook_srresnet_file_loads_into_relu_variant_with_same_output(tmp_path):
    paddle.seed(0)
    nb = NotebookG()
    _randomise(nb, 1)
    nb.eval()
    path = str(tmp_path / "srresnet.pdparams")
    paddle.save(nb.state_dict(), path)

    model = models.create("srresnet", scale=4, act="relu")
    model.eval()
    state = paddle.load(path)
    assert set(model.state_dict()) - {"value_range"} == set(state)
    check_state_dict(model, state, "notebook srresnet.pdparams")  # raises on any key/shape mismatch
    x = _x((1, 3, 10, 10))
    with paddle.no_grad():
        before = model(x).numpy()
        model.set_state_dict(state)
        got, ref = model(x).numpy(), nb(x).numpy()
    assert not np.allclose(before, ref)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_paper_variant_has_prelu_slopes_initialised_to_quarter():
    model = models.create("srresnet", scale=4)
    slopes = {k: v for k, v in model.state_dict().items() if k.endswith("prelu._weight")}
    # head + one per residual block + one per upsampler; one slope per channel (the paper's Lasagne PReLU)
    assert sorted(slopes) == sorted(["prelu._weight", "us1.prelu._weight", "us2.prelu._weight"]
                                    + [f"rb_{i}.prelu._weight" for i in range(16)])
    for v in slopes.values():
        np.testing.assert_array_equal(v.numpy(), np.full([64], 0.25, dtype="float32"))
    # 1,550,659 trainable parameters at x4 (BN running statistics excluded, as torch counts them): the
    # torch-style one-slope variant's 1,549,462 plus 19 layers x 63 more slopes.
    assert sum(int(p.numel()) for p in model.parameters() if not p.stop_gradient) == 1_550_659
    shared = models.create("srresnet", scale=4, prelu="shared")
    assert shared.state_dict()["rb_0.prelu._weight"].shape == [1]
    assert sum(int(p.numel()) for p in shared.parameters() if not p.stop_gradient) == 1_549_462
    with pytest.raises(SRError, match="prelu must be 'channel'"):
        models.create("srresnet", scale=4, prelu="per-pixel")


def test_per_channel_slopes_and_bn_epsilon_are_used():
    """Weights with a different slope in every channel (as a Keras/Lasagne SRResNet trained on DIV2K has) act
    per channel; bn_eps reaches every BatchNorm (Keras' 1e-3)."""
    model = models.create("srresnet", scale=2, num_blocks=1, channels=4, bn_eps=1e-3)
    model.eval()
    assert {layer._epsilon for layer in model.sublayers() if isinstance(layer, paddle.nn.BatchNorm2D)} == {1e-3}
    alpha = np.array([0.1, 0.5, 1.3, 1.9], np.float32)
    model.prelu._weight.set_value(alpha)
    x = _x((1, 3, 6, 6))
    with paddle.no_grad():
        got = model.prelu(model.conv1(x)).numpy()
        pre = model.conv1(x).numpy()
    want = np.where(pre > 0, pre, pre * alpha[None, :, None, None])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_scale_two_has_one_upsampler_and_bn_free_variant_has_no_bn():
    keys2 = set(models.create("srresnet", scale=2).state_dict())
    assert any(k.startswith("us1.") for k in keys2) and not any(k.startswith("us2.") for k in keys2)
    free = models.create("srresnet", scale=4, norm=False)
    assert not [k for k in free.state_dict() if ".bn" in k or k.startswith("bn.")]
    with paddle.no_grad():
        assert free(_x((1, 3, 6, 5))).shape == [1, 3, 24, 20]
    with pytest.raises(SRError, match="prelu"):
        models.create("srresnet", scale=4, act="gelu")
    with pytest.raises(SRError, match="2, 4"):
        models.create("srresnet", scale=3)


# --- SRGAN discriminator ---

def test_discriminator_structure_and_outputs():
    paddle.seed(0)
    d = SRGANDiscriminator(hr_patch_size=32, channels=8)
    d.eval()
    strides = [cna.conv._stride[0] for cna in d.cnas]
    widths = [cna.conv.weight.shape[0] for cna in d.cnas]
    assert strides == [2, 1, 2, 1, 2, 1, 2] and widths == [8, 16, 16, 32, 32, 64, 64]
    assert d.fc1.weight.shape == [2 * 2 * 64, 128] and d.fc2.weight.shape == [128, 1]
    assert list(d.state_dict())[:2] == ["conv.weight", "conv.bias"]
    x = _x((3, 3, 32, 32))
    with paddle.no_grad():
        p = d(x).numpy()
        d.logits = True
        z = d(x).numpy()
    assert p.shape == (3, 1) and ((p > 0) & (p < 1)).all()
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-z)), rtol=1e-5, atol=1e-6)
    assert SRGANDiscriminator(hr_patch_size=96).fc1.weight.shape == [6 * 6 * 512, 1024]
    rect = SRGANDiscriminator(hr_patch_size=(48, 32), channels=4)
    assert rect.fc1.weight.shape == [3 * 2 * 32, 64]
    with pytest.raises(SRError, match="divisible by 16"):
        SRGANDiscriminator(hr_patch_size=100)
    with pytest.raises(SRError, match="32x32"):
        d(_x((1, 3, 48, 48)))


def test_discriminator_every_parameter_gets_a_gradient():
    paddle.seed(0)
    d = SRGANDiscriminator(hr_patch_size=16, channels=4, logits=True)
    d.train()
    d(_x((2, 3, 16, 16))).sum().backward()
    missing = [n for n, p in d.named_parameters()
               if not p.stop_gradient and (p.grad is None or float(p.grad.abs().sum()) == 0)]
    assert not missing


def test_notebook_discriminator_loses_first_dense_layer(tmp_path):
    """The notebook's duplicate ``fc1``: the 1024-unit layer runs in forward but is never saved or trained."""
    paddle.seed(0)
    nb = NotebookD(hr_patch=32)
    state = nb.state_dict()
    assert state["fc1.weight"].shape == [1024, 1]
    assert not [k for k, v in state.items() if list(v.shape) == [2 * 2 * 512, 1024]]
    first_dense = nb.layer_list[10]
    assert first_dense.weight.shape == [2048, 1024]
    assert all(p is not first_dense.weight for p in nb.parameters())  # the optimizer never sees it
    assert nb(_x((1, 3, 32, 32))).shape == [1, 1]  # ... though forward uses it
    path = str(tmp_path / "srgan_d.pdparams")
    paddle.save(state, path)
    ours = SRGANDiscriminator(hr_patch_size=32)
    with pytest.raises(SRError, match="fc1.weight"):
        check_state_dict(ours, paddle.load(path), "srgan_d.pdparams")


# --- VGG19 feature extractor ---

def _vision_state(seed, upto_block=5):
    """paddle.vision vgg19 ``features`` layout with random weights (conv biases included)."""
    rng = np.random.default_rng(seed)
    state, cin = {}, 3
    for b, (n, cout) in enumerate(zip(vgg.BLOCKS, vgg.CHANNELS), 1):
        if b > upto_block:
            break
        for k in range(1, n + 1):
            i = vgg._vision_index(b, k)
            state[f"features.{i}.weight"] = rng.normal(0, np.sqrt(2 / (9 * cin)), (cout, cin, 3, 3)).astype("float32")
            state[f"features.{i}.bias"] = rng.normal(0, 0.1, cout).astype("float32")
            cin = cout
    return state


def _paddleclas_state(seed, fmt):
    rng = np.random.default_rng(seed)
    state, cin = {}, 3
    for k in (1, 2):
        state[fmt.format(b=1, k=k)] = rng.normal(0, 0.3, (64, cin, 3, 3)).astype("float32")
        cin = 64
    state["fc1.weight"] = np.zeros((4, 4), "float32")  # classifier entries are ignored
    return state


@pytest.mark.parametrize("fmt", ["_conv_block_{b}._conv_{k}.weight", "conv_block_{b}.conv{k}.weight",
                                 "conv{b}_{k}_weights"], ids=["notebook", "legendary", "param_names"])
def test_paddleclas_layouts_load(tmp_path, fmt):
    state = _paddleclas_state(3, fmt)
    path = str(tmp_path / "VGG19_pretrained.pdparams")
    paddle.save({k: paddle.to_tensor(v) for k, v in state.items()}, path)
    ext = VGG19FeatureExtractor(layer="conv1_2", weights=path)
    assert sorted(ext.state_dict()) == ["_conv_block_1._conv_1.weight", "_conv_block_1._conv_2.weight"]
    x = _x((1, 3, 8, 8))
    n = ((x + 1) / 2 - paddle.to_tensor(vgg.IMAGENET_MEAN).reshape([1, 3, 1, 1])) \
        / paddle.to_tensor(vgg.IMAGENET_STD).reshape([1, 3, 1, 1])
    ref = F.relu(F.conv2d(F.relu(F.conv2d(n, paddle.to_tensor(state[fmt.format(b=1, k=1)]), padding=1)),
                          paddle.to_tensor(state[fmt.format(b=1, k=2)]), padding=1))
    np.testing.assert_allclose(ext(x).numpy(), ref.numpy(), rtol=1e-4, atol=1e-4)


def test_paddle_vision_layout_matches_paddle_vision_vgg19(tmp_path):
    """Full 16-conv index mapping, pre- and post-activation, against paddle.vision's own VGG19 features."""
    from paddle.vision.models.vgg import cfgs, make_layers
    state = _vision_state(4)
    path = str(tmp_path / "vgg19.pdparams")
    paddle.save({k: paddle.to_tensor(v) for k, v in state.items()}, path)
    features = make_layers(cfgs["E"])
    features.set_state_dict({k[len("features."):]: v for k, v in state.items()})
    features.eval()
    x = _x((1, 3, 16, 16), seed=5)
    n = ((x + 1) / 2 - paddle.to_tensor(vgg.IMAGENET_MEAN).reshape([1, 3, 1, 1])) \
        / paddle.to_tensor(vgg.IMAGENET_STD).reshape([1, 3, 1, 1])
    with paddle.no_grad():
        ext = VGG19FeatureExtractor(weights=path)  # conv5_4 after ReLU = features[:36]
        np.testing.assert_allclose(ext(x).numpy(), features[:36](n).numpy(), rtol=1e-4, atol=1e-4)
        pre = VGG19FeatureExtractor(layer="conv3_4", use_relu=False, weights=path)  # conv3_4 = features[16]
        np.testing.assert_allclose(pre(x).numpy(), features[:17](n).numpy(), rtol=1e-4, atol=1e-4)
    assert ext.layout == "paddle.vision vgg19" and "_conv_block_5._conv_4.bias" in ext.state_dict()
    assert (pre(x).numpy() < 0).any()  # really before the ReLU


def test_wrong_file_and_layer_errors(tmp_path):
    path = str(tmp_path / "other.pdparams")
    paddle.save({"_conv_block_1._conv_1.weight": paddle.zeros([64, 1, 3, 3])}, path)
    with pytest.raises(SRError, match=r"_conv_block_1._conv_1.weight: file \[64, 1, 3, 3\]"):
        VGG19FeatureExtractor(layer="conv1_1", weights=path)
    with pytest.raises(SRError, match="does not exist"):
        VGG19FeatureExtractor(weights=str(tmp_path / "missing.pdparams"))
    with pytest.raises(SRError, match="conv5_4"):
        VGG19FeatureExtractor(layer="conv5_5", allow_random=True)


@pytest.mark.parametrize("layer,shape", [("conv1_2", [2, 64, 16, 16]), ("conv2_2", [2, 128, 8, 8]),
                                         ("conv3_4", [2, 256, 4, 4]), ("conv5_4", [2, 512, 1, 1])])
def test_output_layer_shapes_and_only_needed_convs(layer, shape):
    ext = VGG19FeatureExtractor(layer=layer, allow_random=True)
    b, k = int(layer[4]), int(layer[6])
    assert len(ext.state_dict()) == sum(vgg.BLOCKS[:b - 1]) + k
    with paddle.no_grad():
        assert ext(_x((2, 3, 16, 16))).shape == shape


def test_frozen_but_passes_gradient_to_input():
    ext = VGG19FeatureExtractor(layer="conv2_1", allow_random=True)
    assert not ext.training and all(p.stop_gradient for p in ext.parameters())
    x = _x((1, 3, 8, 8))
    x.stop_gradient = False
    (ext(x) ** 2).mean().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    assert all(p.grad is None for p in ext.parameters())


def test_normalisation_maps_suite_range_to_imagenet_statistics():
    """A 1x1-equivalent check: a conv whose kernel is a centred delta returns the normalised input."""
    ext = VGG19FeatureExtractor(layer="conv1_1", use_relu=False, allow_random=True)
    w = np.zeros((64, 3, 3, 3), "float32")
    for c in range(3):
        w[c, c, 1, 1] = 1.0
    ext._conv_block_1._conv_1.weight.set_value(w)
    x = np.array([-1.0, 0.0, 1.0], "float32").reshape(1, 3, 1, 1) * np.ones((1, 3, 2, 2), "float32")
    out = ext(paddle.to_tensor(x)).numpy()[:, :3, 0, 0]
    expected = [(0.0 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (1.0 - 0.406) / 0.225]
    np.testing.assert_allclose(out[0], expected, rtol=1e-6)


# --- download ---

class _RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves one in-memory file; honours 'Range: bytes=N-' (206) like the weight hosts do."""
    payload, ranges = b"", []

    def do_GET(self):
        data, status, rng = self.payload, 200, self.headers.get("Range")
        type(self).ranges.append(rng)
        if rng:
            start = int(rng.split("=")[1].rstrip("-"))
            data, status = data[start:], 206
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def weight_server(tmp_path):
    state = {k: paddle.to_tensor(v) for k, v in _paddleclas_state(7, "conv_block_{b}.conv{k}.weight").items()}
    src = str(tmp_path / "served.pdparams")
    paddle.save(state, src)
    payload = open(src, "rb").read()
    handler = type("H", (_RangeHandler,), {"payload": payload, "ranges": []})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/VGG19_pretrained.pdparams", payload, handler, state
    server.shutdown()
    server.server_close()


def test_download_to_cache_with_md5(tmp_path, monkeypatch, weight_server):
    url, payload, handler, state = weight_server
    monkeypatch.setattr(vgg, "WEIGHT_URLS", [(url, hashlib.md5(payload).hexdigest())])
    monkeypatch.setattr(vgg, "PADDLE_HAPI_CACHE", str(tmp_path / "no_hapi"))
    cache = tmp_path / "cache"
    ext = VGG19FeatureExtractor(layer="conv1_2", cache_dir=str(cache))
    assert (cache / "VGG19_pretrained.pdparams").read_bytes() == payload
    np.testing.assert_array_equal(ext._conv_block_1._conv_2.weight.numpy(), state["conv_block_1.conv2.weight"].numpy())
    VGG19FeatureExtractor(layer="conv1_2", cache_dir=str(cache))  # second time: from the cache
    assert handler.ranges == [None]


def test_download_resumes_partial_file(tmp_path, weight_server):
    url, payload, handler, _ = weight_server
    dest = str(tmp_path / "w.pdparams")
    half = len(payload) // 2
    with open(dest + ".part", "wb") as f:
        f.write(payload[:half])
    vgg.download(url, dest, hashlib.md5(payload).hexdigest())
    assert handler.ranges == [f"bytes={half}-"]
    assert open(dest, "rb").read() == payload


def test_download_md5_mismatch_removes_file(tmp_path, weight_server):
    url, *_ = weight_server
    dest = str(tmp_path / "w.pdparams")
    with pytest.raises(SRError, match="expected 0+"):
        vgg.download(url, dest, "0" * 32)
    assert not (tmp_path / "w.pdparams").exists() and not (tmp_path / "w.pdparams.part").exists()


def test_downloaded_non_weights_file_is_not_cached(tmp_path, monkeypatch, weight_server):
    url, _, handler, _ = weight_server
    handler.payload = b"<html>404 at the mirror</html>"  # served with status 200, no md5 to catch it
    monkeypatch.setattr(vgg, "WEIGHT_URLS", [(url, None)])
    monkeypatch.setattr(vgg, "PADDLE_HAPI_CACHE", str(tmp_path / "no_hapi"))
    with pytest.raises(SRError, match="cannot read weights file"):
        VGG19FeatureExtractor(cache_dir=str(tmp_path / "cache"))
    assert not list((tmp_path / "cache").iterdir())


def test_no_network_gives_clear_error(tmp_path, monkeypatch):
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(vgg, "WEIGHT_URLS", [(f"http://127.0.0.1:{port}/VGG19_pretrained.pdparams", None)])
    monkeypatch.setattr(vgg, "PADDLE_HAPI_CACHE", str(tmp_path / "no_hapi"))
    with pytest.raises(SRError, match=r"not available.*--vgg_weights=PATH") as e:
        VGG19FeatureExtractor(cache_dir=str(tmp_path / "cache"))
    assert str(e.value).count(f"127.0.0.1:{port}") == 1  # the URL once, not again in the fix


def test_an_unwritable_cache_names_paddle_sr_home(tmp_path, monkeypatch):
    cache = tmp_path / "ro"
    cache.write_text("a file where the cache folder should be")  # unwritable, also for root
    monkeypatch.setattr(vgg, "WEIGHT_URLS", [("http://127.0.0.1:9/VGG19_pretrained.pdparams", None)])
    monkeypatch.setattr(vgg, "PADDLE_HAPI_CACHE", str(tmp_path / "no_hapi"))
    monkeypatch.setenv("PADDLE_SR_HOME", str(cache / "sub"))
    with pytest.raises(SRError, match=r"cannot write the weights cache .*ro/sub.*set PADDLE_SR_HOME"):
        VGG19FeatureExtractor()

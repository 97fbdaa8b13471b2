"""VGG19 feature extractor for perceptual losses — Very Deep Convolutional Networks for Large-Scale
Image Recognition (Simonyan & Zisserman, ICLR 2015, arXiv:1409.1556), used as in SRGAN
(arXiv:1609.04802, "VGG54" = conv5_4 after ReLU) and ESRGAN (arXiv:1809.00219, before ReLU).

Layout as the SRGAN notebook's copy of PaddleClas ``VGGNet``: ``_conv_block_{b}._conv_{k}`` (3x3 convs
without bias) and a 2x2 max pool between blocks. Weights accepted (auto-detected from the keys):
- PaddleClas ``VGG19_pretrained.pdparams``: ``_conv_block_{b}._conv_{k}.weight`` (dygraph branch, the
  notebook's file), ``conv_block_{b}.conv{k}.weight`` (legendary_models) or ``conv{b}_{k}_weights``
  (parameter names of static-graph exports). No conv biases.
- ``paddle.vision.models.vgg19`` weights: ``features.{i}.weight`` / ``.bias`` (torchvision indices);
  the convs are then built with biases.
Fully-connected layers in either file are ignored.

Differences from the notebook:
- Inputs are the suite's [-1, 1], mapped to [0, 1] and normalised with the ImageNet mean/std that both
  weight sets were trained with; the notebook fed [-1, 1] straight in.
- No ``ParamAttr(name="conv1_1_weights")``: Paddle 3 refuses a second layer with the same parameter
  name, so a second extractor in one process (two losses, a re-run notebook cell) would crash. The
  state-dict keys, which is what files use, are the notebook's.
- Only the convolutions up to the chosen layer are built and run.
"""
import os
import re

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_sr.core.errors import SRError
from paddle_sr.weights.state import read_state_dict

BLOCKS = (2, 2, 4, 4, 4)  # convolutions per block, VGG19 (config E)
CHANNELS = (64, 128, 256, 512, 512)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# (url, md5 or None). The PaddleClas file (the notebook's network) first; paddle.vision's md5 is the one
# paddle.vision.models.vgg publishes. PaddleClas publishes none, so that file is checked by its keys/shapes.
WEIGHT_URLS = [
    ("https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/legendary_models/VGG19_pretrained.pdparams", None),
    ("https://paddle-hapi.bj.bcebos.com/models/vgg19.pdparams", "23b18bb13d8894f60f54e642be79a0dd"),
]
PADDLE_HAPI_CACHE = os.path.expanduser("~/.cache/paddle/hapi/weights")  # where paddle.vision stores vgg19


def _vision_index(b, k):
    """Index of conv{b}_{k} in paddle.vision's ``features`` Sequential (conv, ReLU per conv; a pool per block)."""
    return sum(2 * n + 1 for n in BLOCKS[:b - 1]) + 2 * (k - 1)


def layer_names():
    return [f"conv{b}_{k}" for b, n in enumerate(BLOCKS, 1) for k in range(1, n + 1)]


def _source_keys(state):
    """Map own weight/bias keys -> keys in ``state`` for the layout ``state`` uses, and whether it has biases."""
    def table(fmt_w, fmt_b=None):
        return {(b, k): (fmt_w(b, k), fmt_b(b, k) if fmt_b else None)
                for b, n in enumerate(BLOCKS, 1) for k in range(1, n + 1)}
    if any(key.startswith("features.") for key in state):
        return table(lambda b, k: f"features.{_vision_index(b, k)}.weight",
                     lambda b, k: f"features.{_vision_index(b, k)}.bias"), True, "paddle.vision vgg19"
    if any(key.startswith("conv_block_") for key in state):
        return table(lambda b, k: f"conv_block_{b}.conv{k}.weight"), False, "PaddleClas legendary_models VGG19"
    if any(re.fullmatch(r"conv\d_\d_weights", key) for key in state):
        return table(lambda b, k: f"conv{b}_{k}_weights"), False, "PaddleClas (parameter names)"
    return table(lambda b, k: f"_conv_block_{b}._conv_{k}.weight"), False, "PaddleClas VGGNet (notebook)"


def download(url, dest, md5=None, timeout=30):
    """Fetch ``url`` to ``dest`` through ``core.download.fetch``: resumes ``dest.part`` with an HTTP Range
    request, and ``dest`` only appears once complete (and matching ``md5`` when given). Raises SRError.

    A ``dest`` already there that fails ``md5`` is set aside (``.bad``) and fetched again."""
    from types import SimpleNamespace

    from paddle_sr.core.download import check_file, fetch, set_aside

    dest = os.fspath(dest)
    if os.path.isfile(dest) and check_file(dest, md5=md5) is not None:
        set_aside(dest)
    file = SimpleNamespace(name=os.path.basename(dest), url=url, size=None, sha256=None, md5=md5)
    return os.fspath(fetch(file, os.path.dirname(os.path.abspath(dest)), timeout=timeout))


class ConvBlock(nn.Layer):
    """``n`` 3x3 convs (``_conv_1`` ...), each followed by ReLU in ``VGG19FeatureExtractor.forward``."""

    def __init__(self, in_channels, out_channels, n, bias=False):
        super().__init__()
        self.n = n
        for k in range(1, n + 1):
            conv = nn.Conv2D(in_channels if k == 1 else out_channels, out_channels, 3, 1, 1,
                             bias_attr=None if bias else False)
            self.add_sublayer(f"_conv_{k}", conv)


class VGG19FeatureExtractor(nn.Layer):
    """Frozen VGG19 features of a suite image, for the perceptual (content) loss.

    Args:
        layer: output layer ``conv{b}_{k}`` (conv1_1 ... conv5_4); SRGAN's VGG54 is conv5_4.
        use_relu: output after the layer's ReLU (SRGAN, the notebook); False gives the pre-activation
            features ESRGAN uses.
        weights: path of a PaddleClas ``VGG19_pretrained.pdparams`` or paddle.vision ``vgg19.pdparams``;
            None looks in ``cache_dir`` (and paddle.vision's cache), then downloads from ``WEIGHT_URLS``.
        allow_random: with ``weights=None``, use random weights without touching the network (tests only;
            a perceptual loss on random features is meaningless).
        cache_dir: where downloads go (default ``$PADDLE_SR_HOME`` or ``~/.cache/paddle_sr``).
    """

    def __init__(self, layer="conv5_4", use_relu=True, weights=None, allow_random=False, cache_dir=None):
        super().__init__()
        match = re.fullmatch(r"conv(\d)_(\d)", str(layer))
        if not match or layer not in layer_names():
            raise SRError(f"unknown VGG19 layer {layer!r}; choose one of {', '.join(layer_names())}")
        self.target = (int(match.group(1)), int(match.group(2)))
        self.layer, self.use_relu = layer, use_relu
        state, source = (None, "random") if weights is None and allow_random else self._obtain(weights, cache_dir)
        keys, bias, layout = _source_keys(state) if state is not None else (None, False, "random")
        self.layout = layout
        self.blocks = []
        tb, tk = self.target
        for b in range(1, tb + 1):
            n = BLOCKS[b - 1] if b < tb else tk
            in_ch = 3 if b == 1 else CHANNELS[b - 2]
            self.blocks.append(self.add_sublayer(f"_conv_block_{b}", ConvBlock(in_ch, CHANNELS[b - 1], n, bias)))
        # ImageNet statistics as non-persistable buffers: they follow the device but stay out of the
        # state dict, which keeps the notebook's keys.
        self.register_buffer("mean", paddle.to_tensor(IMAGENET_MEAN).reshape([1, 3, 1, 1]), persistable=False)
        self.register_buffer("std", paddle.to_tensor(IMAGENET_STD).reshape([1, 3, 1, 1]), persistable=False)
        if state is not None:
            self._load(state, keys, layout, source)
        for p in self.parameters():
            p.stop_gradient = True
        self.eval()

    def _obtain(self, weights, cache_dir):
        if weights is not None:
            return read_state_dict(weights), os.fspath(weights)
        from paddle_sr.core.download import check_file, home

        cache_dir = cache_dir or home()
        failures = []
        for url, md5 in WEIGHT_URLS:
            name = url.rsplit("/", 1)[-1]
            for folder in (cache_dir, PADDLE_HAPI_CACHE):
                path = os.path.join(folder, name)
                if os.path.isfile(path) and check_file(path, md5=md5) is None:
                    return read_state_dict(path), path
            path = os.path.join(cache_dir, name)
            from paddle_sr.weights.catalogue import check_cache_writable
            check_cache_writable(cache_dir)  # an unwritable cache: one error naming PADDLE_SR_HOME
            try:
                download(url, path, md5)
            except SRError as e:
                failures.append(str(e))
                continue
            try:
                return read_state_dict(path), path
            except SRError as e:  # e.g. an HTML error page served as 200: do not cache it
                os.remove(path)
                failures.append(str(e))
        # each failure names its URL: the fix does not repeat them
        raise SRError(f"VGG19 weights for the perceptual loss are not available ({'; '.join(failures)}). "
                      f"Download one of these files on a machine with internet access and pass its path: --vgg_weights=PATH "
                      f"to python -m paddle_sr.train (IGNN: --model_kwargs='{{\"vgg_weights\": \"PATH\"}}'; in Python "
                      f"VGG19FeatureExtractor(weights=PATH)), or put the file in {cache_dir}")

    def _load(self, state, keys, layout, source):
        problems, values = [], {}
        for name, param in self.state_dict().items():
            b, k = map(int, re.match(r"_conv_block_(\d)\._conv_(\d)\.", name).groups())
            src = keys[(b, k)][0 if name.endswith(".weight") else 1]
            if src not in state:
                problems.append(f"missing {src}")
            elif list(state[src].shape) != list(param.shape):
                problems.append(f"{src}: file {list(state[src].shape)} vs VGG19 {list(param.shape)}")
            else:
                values[name] = state[src]
        if problems:
            more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
            raise SRError(f"{source} is not VGG19 weights in the {layout} layout: {'; '.join(problems[:5])}{more}. "
                          f"Pass PaddleClas VGG19_pretrained.pdparams or paddle.vision vgg19.pdparams")
        self.set_state_dict(values)

    def forward(self, x):
        x = ((x + 1) / 2 - self.mean) / self.std
        for b, block in enumerate(self.blocks, 1):
            if b > 1:
                x = F.max_pool2d(x, 2, 2)
            for k in range(1, block.n + 1):
                x = getattr(block, f"_conv_{k}")(x)
                if (b, k) == self.target and not self.use_relu:
                    return x
                x = F.relu(x)
        return x

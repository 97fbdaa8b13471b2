"""IGNN — Cross-Scale Internal Graph Neural Network for Image Super-Resolution (Zhou et al., NeurIPS 2020,
arXiv:2006.16673).

Port of the official sczhou/IGNN (``models/IGNN.py``, ``models/submodules.py``, ``models/graph_agg.py``,
``models/VGG19.py``, ``models/lib/ops.py``, ``config.py``) with its parameter names: ``sub_mean``,
``vggnet.{sub_mean,model.0,model.2}`` (also stored as ``graph.embedcnn.*``: one shared layer, two
names, as in the PyTorch state dict), ``head.0``, ``body1.{i}.body.{0,2}``, ``gcn.knn_downsample``,
``gcn.weightnet_{lr,hr}``, ``fuse_b``, ``body2``, ``upsample.0``, ``fuse_up``, ``tail``, ``add_mean``.
Official checkpoints (``checkpoint['net_state_dict']``, DataParallel ``module.`` prefix) convert by
identity once unwrapped; they carry the VGG and mean-shift values they were trained with. Native
range 0..255 RGB (the official loader flips cv2's BGR to RGB).

How it works: the "son" (the LR bicubic-downsampled by s = scale, s = 2 for x4) and the LR are
embedded with VGG19 up to relu1_2; 3x3 patches at stride 2 of the LR query the k = 5 nearest son
patches (within a 30x30-patch window of son patches); the matching LR-resolution patches (the
neighbours' "HR" versions) are aggregated, AdaIN-normalised to the query, weighted by a softmax of
the patch-difference "edge" nets and fused at LR and at s x LR. x4 runs the graph at x2 and adds
an x2 upsampler to the tail.

Ops without a Paddle counterpart, and what replaces them (same numbers):
- ``matmul_cuda.matmul1`` (eval-only distances to the window candidates) -> the training path of
  the official ``compute_distances`` for every mode: full squared distances by ``matmul`` and a
  gather of the window (memory O(m n) for m LR and n son patches: 25M floats for a 200x200 LR at x2;
  float-level ties between the k-th and (k+1)-th distance may resolve differently from CUDA).
- ``pyinn.im2col`` / ``col2im`` -> grouped identity-kernel ``conv2d`` / ``conv2d_transpose`` (exact
  copies/sums; these, unlike ``F.unfold``/``F.fold``, keep H and W dynamic for export).
- the son, made by the official data loader with ``utils/imresize.py`` (MATLAB bicubic, antialiased)
  -> ``MatlabBicubicDownsample`` below, in the model (LR-in/SR-out contract), clamped to 0..255.
- the window index (``index_neighbours``) and the full/windowed choice are tensor arithmetic on the
  input shape, so the exported graph keeps dynamic H/W.

Differences from the paper / official code:
- The official ``index_neighbours`` sets the global ``cfg.NETWORK.WITH_WINDOW = False`` the first
  time a son has <= 30 patches per side (every x2/x4 training crop), so in one process all later
  images use the full search. Here the choice is made per input (the official result for each
  input run in a fresh process).
- Inputs the official code cannot run are padded (replicate) and the output cropped: a side H
  whose son (ceil(H/s) rows) and pixel-unshuffled features (floor(H/s) rows) have different
  patch-grid sizes (H not a multiple of s with floor(H/s) odd; the neighbour gather then reads the
  wrong patches or out of range) goes to the next multiple of s,
  and inputs whose son has fewer candidate patches than k (square LR below 11x11 at x2/x4 or
  16x16 at x3; padded to 12x12 / 18x18). Sizes the official code runs are not padded (tested).
- The official test wraps the model in ``Chop`` (4 tiles with a 12-pixel shave, recursively until a
  tile has < 40000 LR pixels) and the matching then stays inside a tile; ``forward`` processes the
  whole image. ``WITH_SCORE`` only computes an unused output, so it is left out; ``WITH_DIFF=False``
  crashes the official ``GCNBlock`` and is refused.
- Official training calls ``initialize_weights(net, 0.1)`` (Kaiming-normal x 0.1, zero bias) on
  every ``nn.Conv2d``, which also re-draws the frozen VGG convolutions and both mean shifts. Here the
  trainable convolutions get that init, the mean shifts keep their values, and the VGG is whatever
  ``vgg_weights`` says (the paper's ImageNet VGG19 with ``vgg_weights='imagenet'``).
- The official VGG warns when its input leaves [0, 255]; no warning here.
"""
import math

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_sr.models._registry import register
from paddle_sr.models.common import MeanShift, SRModel

VGG_MEAN = (0.485, 0.456, 0.406)
VGG_STD = (0.229, 0.224, 0.225)


def conv(in_channels, out_channels, kernel_size=3, act=True, stride=1, leaky=0.0):
    """Official ``submodules.conv``: Sequential(Conv2d[, LeakyReLU]) -> keys ``N.0.weight``."""
    layers = [nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride, padding=(kernel_size - 1) // 2)]
    if act:
        layers.append(nn.LeakyReLU(leaky))  # LEAKY_VALUE = 0.0: a ReLU
    return nn.Sequential(*layers)


class ResBlock(nn.Layer):
    """Official ``submodules.ResBlock``: conv-act-conv, times ``res_scale``, plus the input."""

    def __init__(self, n_feats, kernel_size=3, res_scale=1.0, leaky=0.0):
        super().__init__()
        pad = (kernel_size - 1) // 2
        self.body = nn.Sequential(nn.Conv2D(n_feats, n_feats, kernel_size, padding=pad), nn.LeakyReLU(leaky),
                                  nn.Conv2D(n_feats, n_feats, kernel_size, padding=pad))
        self.res_scale = res_scale

    def forward(self, x):
        return self.body(x) * self.res_scale + x


def upsampler(n_feats, scale, kernel_size=3):
    """Official ``submodules.upsampler`` (act=False): conv + PixelShuffle per x2 (or one x3)."""
    layers = []
    for f in ([2] * int(math.log2(scale)) if scale & (scale - 1) == 0 else [3]):
        layers += [nn.Conv2D(n_feats, f * f * n_feats, kernel_size, padding=1), nn.PixelShuffle(f)]
    return nn.Sequential(*layers)


class VGG19(nn.Layer):
    """Official ``models/VGG19.py`` with ``feature_list=[3]``: relu1_2 of VGG19, frozen.

    Input on [0, 255] (divided by 255, then ImageNet-normalised by the frozen ``sub_mean``).
    """

    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(nn.Conv2D(3, 64, 3, padding=1), nn.ReLU(), nn.Conv2D(64, 64, 3, padding=1), nn.ReLU())
        self.sub_mean = MeanShift(1.0, VGG_MEAN, VGG_STD)
        for p in self.parameters():
            p.stop_gradient = True

    def load_imagenet(self, weights=None, cache_dir=None):
        """conv1_1/conv1_2 from PaddleClas or paddle.vision VGG19 weights (``vgg.py`` finds/downloads them)."""
        from paddle_sr.models.vgg import VGG19FeatureExtractor

        ext = VGG19FeatureExtractor(layer="conv1_2", weights=weights, cache_dir=cache_dir)
        block = ext._conv_block_1
        for mine, theirs in ((self.model[0], block._conv_1), (self.model[2], block._conv_2)):
            mine.weight.set_value(theirs.weight)
            # PaddleClas VGG19 was trained without conv biases: zero is its bias.
            mine.bias.set_value(theirs.bias if theirs.bias is not None else paddle.zeros_like(mine.bias))

    def forward(self, x):
        return self.model(self.sub_mean(x / 255.0))


class MatlabBicubicDownsample(nn.Layer):
    """MATLAB ``imresize(x, 1/s, 'bicubic')`` (antialiased) for an integer ``s``, output ceil(H/s).

    The official son comes from ``utils/imresize.py`` (a copy of MATLAB's algorithm): for 1/s every
    output pixel uses the same taps at offsets ``s*i + a ... s*i + a + K - 1``, so each pass is a
    depthwise strided convolution of the symmetrically extended input (MATLAB's border: mirror
    including the edge pixel, index map built from the dynamic size, so any H/W works).
    """

    def __init__(self, s):
        super().__init__()
        from paddle_sr.image.imresize import contributions

        self.s = s = int(s)
        n = 16 * s
        weights, indices = contributions(n, n // s, 1.0 / s)
        row = 8  # an interior output pixel: its taps do not touch the border
        offsets = indices[row] - row * s  # MATLAB drops all-zero taps, so offsets may skip (x3)
        taps = np.zeros(offsets[-1] - offsets[0] + 1)
        taps[offsets - offsets[0]] = weights[row]
        self.left = int(-offsets[0])
        self.k = len(taps)
        # Output size floor((H + left + right - K) / s) + 1 = ceil(H / s) for every H: right = K - 1 - left.
        self.right = self.k - 1 - self.left
        self.register_buffer("kernel", paddle.to_tensor(taps.astype("float32")), persistable=False)

    def _pass(self, x, axis):
        size = paddle.shape(x)[axis]
        j = paddle.arange(-self.left, 0, dtype="int64")
        pos = paddle.concat([j, paddle.arange(0, size + self.right, dtype="int64")])
        m = paddle.remainder(pos, 2 * size)
        x = paddle.index_select(x, paddle.where(m < size, m, 2 * size - 1 - m), axis=axis)
        c = x.shape[1]
        shape = [1, 1, self.k, 1] if axis == 2 else [1, 1, 1, self.k]
        weight = paddle.tile(self.kernel.reshape(shape), [c, 1, 1, 1])
        stride = [self.s, 1] if axis == 2 else [1, self.s]
        return F.conv2d(x, weight, stride=stride, groups=c)

    def forward(self, x):
        return self._pass(self._pass(x, 2), 3)  # rows first, as the official imresize


def _unfold(x, eye):
    """pyinn ``im2patch`` (3x3, stride 2, bottom/right zero pad) -> (b, m1*m2, C*9) and (m1, m2).

    The official pads 1 row/column only for even sizes; an always-present extra zero row is never
    reached by a stride-2 3x3 patch of an odd size, so the patches are the same.
    """
    c = x.shape[1]
    x = F.pad(x, [0, 1, 0, 1])
    cols = F.conv2d(x.reshape([-1, 1, 0, 0]), eye, stride=2)       # (b*C, 9, m1, m2)
    grid = paddle.shape(cols)[2:4]
    cols = cols.reshape([-1, c * 9, 0, 0]).reshape([0, c * 9, -1])  # (b, C*9, m)
    return cols.transpose([0, 2, 1]), grid


def _fold(patches, eye, stride, height, width):
    """pyinn ``patch2im``: sum overlapping patches, divide by the overlap count, crop the padding.

    ``patches``: (N, P*P, m1, m2) -> (N, 1, height, width) with the stride-``stride`` P x P layout.
    """
    out = F.conv2d_transpose(patches, eye, stride=stride)
    ones = paddle.ones_like(patches[:1, :1])
    counts = F.conv2d_transpose(ones, paddle.ones_like(eye[:1]), stride=stride)
    counts = paddle.maximum(counts, paddle.ones_like(counts))  # the cropped pad rows have count 0
    # As (N, H*W) / (1, H*W): oneDNN divides the 4-D conv2d_transpose output 100x slower.
    h, w = paddle.shape(out)[2], paddle.shape(out)[3]
    out = (out.reshape([-1, h * w]) / counts.reshape([1, -1])).reshape([-1, 1, h, w])
    return out[:, :, :height, :width]


def _eye(p):
    return paddle.eye(p * p, dtype="float32").reshape([p * p, 1, p, p])


def _centred_std(x, eps):
    """``x`` minus its mean, and sqrt(unbiased variance + eps), over the last axis (keepdim), as torch
    ``var(dim=-1)``. Written out: ``paddle.var`` divides an int64 count internally, which logs a
    type-promotion warning."""
    d = x - x.mean(axis=-1, keepdim=True)
    return d, paddle.sqrt((d * d).sum(axis=-1, keepdim=True) / (x.shape[-1] - 1) + eps)


def adaptive_instance_normalization(center, knn, eps=1e-5):
    """Official ``network_utils.adaptive_instance_normalization`` (unbiased variances over the patch
    pixels), on the neighbours in (b, m, k, c, sp) order instead of the official (b, m, c, sp, k).

    center: (b, m, c, p); knn: (b, m, k, c, sp) -> knn with the centre's mean and std per channel:
    ``(knn - k_mean) * (c_std / k_std) + c_mean`` per (b, m, k, c) row, the official
    ``(knn - k_mean) / k_std * c_std + c_mean`` up to float rounding. The layout and the 2-D views
    are for speed: Paddle Inference's oneDNN elementwise ops take 50x longer on the official
    five-dimensional broadcasts than on (rows, sp) with a per-row operand (``benchmarks/README.md``).
    """
    b, m, c = paddle.shape(center)[0], paddle.shape(center)[1], center.shape[2]
    k, sp = knn.shape[2], knn.shape[4]
    centre = center.reshape([-1, 1, c, center.shape[3]])
    c_mean = centre.mean(axis=-1, keepdim=True)  # (b*m, 1, c, 1)
    _, c_std = _centred_std(centre, eps)
    d, k_std = _centred_std(knn.reshape([-1, sp]), eps)  # (b*m*k*c, sp), (b*m*k*c, 1)
    # The centre's statistics are expanded, not broadcast: Paddle 3.0.0's oneDNN divide gives wrong
    # numbers when its first operand is the broadcast one ((b*m, 1, c, 1) / (b*m, k, c, 1)).
    scale = paddle.expand(c_std, [-1, k, c, 1]).reshape([-1, 1]) / k_std
    shift = paddle.expand(c_mean, [-1, k, c, 1]).reshape([-1, 1])
    return (d * scale + shift).reshape([b, m, k, c, sp])


class Graph(nn.Layer):
    """Official ``submodules.Graph`` + ``graph_agg.GraphConstruct``: k-NN son patches per LR patch.

    ``embedcnn`` is the model's VGG19 (one layer under two names, as in the official state dict).
    Returns the neighbour indices (b, m, k) into the son patch grid and the edge features
    ``diff_patch`` (b, k*64, s*H, s*W): per neighbour and VGG channel, the L1 difference of the two
    3x3 patches, spread over the query's s-times larger footprint and averaged where footprints overlap.
    """

    def __init__(self, scale, k=5, patchsize=3, stride=2, window_size=30, embedcnn=None, with_window=True):
        super().__init__()
        assert patchsize == 3 and stride == 2, "the official IGNN uses 3x3 patches at stride 2"
        self.scale, self.k, self.window_size, self.with_window = scale, k, window_size, with_window
        self.embedcnn = embedcnn
        self.register_buffer("eye3", _eye(3), persistable=False)
        self.register_buffer("ones_sr", paddle.ones([1, 1, 3 * scale, 3 * scale]), persistable=False)

    def neighbour_index(self, n1, n2, m1, m2):
        """Official ``index_neighbours``: (1, m, O) son-patch candidates of every query patch.

        Windowed (son grid larger than the window on a side): the s x s son patches (s = min(window,
        n1, n2)) around son patch (i//2, j//2), column-major as the official; otherwise all n1*n2
        son patches in raster order (the official full search, ``I = None``).
        """
        win, one = self.window_size, paddle.ones_like(n1)
        if self.with_window:
            full = paddle.logical_and(n1 <= win, n2 <= win)
        else:
            full = paddle.ones_like(n1, dtype="bool")
        s = paddle.minimum(paddle.minimum(n1, n2), one * win)
        count = paddle.where(full, n1 * n2, s * s)
        o = paddle.arange(0, count, dtype="int64")
        row = paddle.where(full, o // n2, o % s)
        col = paddle.where(full, o % n2, o // s)
        zero = paddle.zeros_like(n1)
        ch = paddle.arange(0, m1, dtype="int64") // 2 - s // self.scale
        ch = paddle.where(full, zero, paddle.minimum(paddle.maximum(ch, zero), n1 - s))
        cw = paddle.arange(0, m2, dtype="int64") // 2 - s // self.scale
        cw = paddle.where(full, zero, paddle.minimum(paddle.maximum(cw, zero), n2 - s))
        index = (ch.reshape([-1, 1, 1]) + row.reshape([1, 1, -1])) * n2 + cw.reshape([1, -1, 1]) + col.reshape([1, 1, -1])
        return index.flatten(0, 1).unsqueeze(0), full

    def forward(self, x_son, x):
        xe, ye = self.embedcnn(x_son), self.embedcnn(x)
        ce = xe.shape[1]
        xe_p, (n1, n2) = _unfold(xe, self.eye3)   # (b, n, e) son patches
        ye_p, (m1, m2) = _unfold(ye, self.eye3)   # (b, m, e) query patches
        index, full = self.neighbour_index(n1, n2, m1, m2)
        # Official euclidean_distance(ye, xe^T), then the window gather (+1e-5 as the official).
        dist = -2 * paddle.matmul(ye_p, xe_p, transpose_y=True)
        dist = dist + (ye_p ** 2).sum(-1, keepdim=True) + (xe_p ** 2).sum(-1).unsqueeze(1)
        b = paddle.shape(dist)[0]
        index_b = paddle.expand(index, [b, -1, -1])
        dist = paddle.take_along_axis(dist, index_b, axis=2, broadcast=False)
        dist = dist + paddle.where(full, paddle.zeros([1]), paddle.full([1], 1e-5))
        _, local = paddle.topk(dist, self.k, axis=2, largest=False, sorted=True)
        idx_k = paddle.take_along_axis(index_b, local, axis=2, broadcast=False)   # (b, m, k)
        # diff_patch: |query - neighbour| summed over the 3x3 positions, per VGG channel.
        nbr = _gather_patches(xe_p, idx_k)                                          # (b, m, k, e)
        diff = (ye_p.unsqueeze(2) - nbr).abs().reshape([0, 0, 0, ce, 9]).sum(-1)  # (b, m, k, ce)
        diff = diff.transpose([0, 2, 3, 1]).reshape([-1, 1, m1, m2])               # (b*k*ce, 1, m1, m2)
        h, w = paddle.shape(x)[2], paddle.shape(x)[3]
        s = self.scale
        diff = _fold(diff, self.ones_sr, 2 * s, h * s, w * s).reshape([-1, self.k * ce, 0, 0])
        return idx_k.detach(), diff.detach()


def _gather_patches(patches, idx):
    """patches (b, n, f), idx (b, m, k) -> (b, m, k, f): row idx[b, m, k] of batch b."""
    shape = paddle.shape(patches)
    b, n = shape[0], shape[1]
    offset = (paddle.arange(0, b, dtype="int64") * n).reshape([-1, 1, 1])
    flat = paddle.gather(patches.reshape([-1, patches.shape[2]]), (idx + offset).flatten(), axis=0)
    return flat.reshape([b, paddle.shape(idx)[1], idx.shape[2], patches.shape[2]])


class GCNBlock(nn.Layer):
    """Official ``submodules.GCNBlock`` + ``graph_agg.GraphAggregation``.

    Gathers the k neighbours' s x s-times larger patches from the pixel-unshuffled LR features
    (AdaIN-normalised to the query), folds them to s x H, weights them by a softmax over the k
    ``weightnet_hr`` outputs of the edge features; the LR branch strides them back to H
    (``knn_downsample``) and weights them by ``weightnet_lr`` of the average-pooled edges.
    """

    def __init__(self, nplanes_in, scale, k=5, res_scale=0.1, diff_n=64, with_adain_norm=True, leaky=0.0):
        super().__init__()
        self.scale, self.k, self.with_adain_norm = scale, k, with_adain_norm
        self.knn_downsample = nn.Sequential(
            conv(nplanes_in, nplanes_in, 5, stride=scale, leaky=leaky),
            conv(nplanes_in, nplanes_in, 3, leaky=leaky),
            conv(nplanes_in, nplanes_in, 3, act=False))
        self.diff_downsample = nn.AvgPool2D(scale, scale)
        for name in ("weightnet_lr", "weightnet_hr"):
            setattr(self, name, nn.Sequential(conv(diff_n, 64, 1, act=False),
                                              ResBlock(64, 1, res_scale=res_scale, leaky=leaky),
                                              conv(64, 1, 1, act=False)))
        self.register_buffer("eye3", _eye(3), persistable=False)
        self.register_buffer("eye_sr", _eye(3 * scale), persistable=False)
        self.register_buffer("eye_s", _eye(scale), persistable=False)

    def aggregate(self, y, idx_k):
        """``GraphAggregation.forward``: (b, k*C, s*H, s*W) neighbour features at s x resolution."""
        s, k = self.scale, self.k
        c = y.shape[1]
        h, w = paddle.shape(y)[2], paddle.shape(y)[3]
        # Official PixelShuffle_Down (crop to multiples of s, channel (c, i, j)) as a stride-s identity
        # conv: F.pixel_unshuffle rejects the unknown H/W of an exported graph.
        yd = F.conv2d(y.reshape([-1, 1, 0, 0]), self.eye_s, stride=s).reshape([-1, c * s * s, 0, 0])
        y_p, (m1, m2) = _unfold(y, self.eye3)            # (b, m, C*9)
        yd_p, _ = _unfold(yd, self.eye3)                 # (b, n, C*s*s*9), f = (c, i, j, p1, p2)
        z = _gather_patches(yd_p, idx_k)                 # (b, m, k, f)
        z = z.reshape([0, 0, k, c, s * s * 9])
        if self.with_adain_norm:
            center = y_p.reshape([0, 0, c, 9])
            z = adaptive_instance_normalization(center, z)
        # (b, m, k, c, i, j, p1, p2) -> (b, k, c, p1, i, p2, j, m): a 3s x 3s patch per (b, k, c).
        z = z.reshape([0, 0, k, c, s, s, 3, 3]).transpose([0, 2, 3, 6, 4, 7, 5, 1])
        z = z.reshape([-1, 9 * s * s, m1, m2])
        z = _fold(z, self.eye_sr, 2 * s, h * s, w * s)
        return z.reshape([-1, k * c, 0, 0])

    def forward(self, y, idx_k, diff_patch):
        knn_hr = self.aggregate(y, idx_k)
        c, ce, k = y.shape[1], diff_patch.shape[1] // self.k, self.k
        # weight_edge: the official loops over the k neighbours with shared weights; one batch of b*k here.
        knn_hr = knn_hr.reshape([-1, c, 0, 0])
        diff = diff_patch.reshape([-1, ce, 0, 0])
        knn_lr = self.knn_downsample(knn_hr)
        weight_lr = self.weightnet_lr(self.diff_downsample(diff))
        weight_hr = self.weightnet_hr(diff)

        def combine(feat, weight):
            # (b, k, c, H*W): four dimensions, as oneDNN broadcasts five-dimensional operands 50x slower.
            h, w = paddle.shape(feat)[2], paddle.shape(feat)[3]
            feat = feat.reshape([-1, k, c, h * w])
            weight = F.softmax(weight.reshape([-1, k, 1, h * w]), axis=1)
            return (feat * weight).sum(1).reshape([-1, c, h, w])

        return combine(knn_lr, weight_lr), combine(knn_hr, weight_hr)


class IGNN(SRModel):
    """Cross-scale internal graph neural network (official ``models/IGNN.py`` + ``config.py``).

    Args:
        scale: 2, 3 or 4 (x4 builds the graph at x2 and adds an x2 upsampler to the tail).
        n_resblocks, n_feats, res_scale: EDSR-style trunk (32, 256, 0.1), split in two halves
            around the graph aggregation.
        n_neighbors: k of the k-NN graph (5). window_size: son-patch window per side (30).
        with_window, with_adain_norm: the official ``cfg.NETWORK`` flags (both True).
        leaky: ``LEAKY_VALUE`` (0: ReLU).
        vgg_weights: None (VGG random, frozen: for loading a converted checkpoint, which carries its
            VGG, and for tests), ``'imagenet'`` (PaddleClas / paddle.vision VGG19 from the cache or
            downloaded, as the perceptual loss does) or a path to such a file.
        vgg_cache_dir: where ``'imagenet'`` looks/downloads (default ``$PADDLE_SR_HOME``).
        value_range: (0, 255): the official normalisation (mean shift x 255, VGG input / 255).
    """

    def __init__(self, scale=4, n_resblocks=32, n_feats=256, res_scale=0.1, n_neighbors=5, window_size=30,
                 with_window=True, with_adain_norm=True, with_diff=True, leaky=0.0, rgb_range=255,
                 vgg_weights=None, vgg_cache_dir=None, value_range=(0, 255)):
        super().__init__(value_range)
        if not with_diff:
            raise ValueError("with_diff=False: the official GCNBlock needs the patch differences (it crashes)")
        self.scale = scale
        self.graph_scale = s = 2 if scale == 4 else scale
        self.k = n_neighbors
        self.window_size, self.with_window = window_size, with_window
        self.sub_mean = MeanShift(rgb_range, sign=-1)
        self.add_mean = MeanShift(rgb_range, sign=1)
        self.vggnet = VGG19()
        self.graph = Graph(s, k=n_neighbors, window_size=window_size, embedcnn=self.vggnet, with_window=with_window)
        self.head = conv(3, n_feats, 3, act=False)
        pre = n_resblocks // 2
        self.body1 = nn.Sequential(*[ResBlock(n_feats, 3, res_scale, leaky) for _ in range(pre)])
        self.gcn = GCNBlock(n_feats, s, k=n_neighbors, res_scale=res_scale, with_adain_norm=with_adain_norm,
                            leaky=leaky)
        self.fuse_b = nn.Sequential(conv(2 * n_feats, n_feats, 3, leaky=leaky), conv(n_feats, n_feats, 3, act=False))
        self.body2 = nn.Sequential(*[ResBlock(n_feats, 3, res_scale, leaky) for _ in range(n_resblocks - pre)],
                                   conv(n_feats, n_feats, 3, act=False))
        self.upsample = upsampler(n_feats, s)
        self.fuse_up = nn.Sequential(conv(2 * n_feats, n_feats, 3, leaky=leaky), conv(n_feats, n_feats, 3, leaky=leaky))
        tail = [upsampler(n_feats, 2)] if scale == 4 else []
        self.tail = nn.Sequential(*tail, conv(n_feats, 3, 3, act=False))
        self._init_like_official()
        if vgg_weights is not None:
            self.vggnet.load_imagenet(None if vgg_weights == "imagenet" else vgg_weights, vgg_cache_dir)
        self.son = MatlabBicubicDownsample(s)
        # Smallest side whose son has ceil(sqrt(k)) patches per side: enough candidates in every mode.
        self.min_side = s * 2 * math.ceil(math.sqrt(n_neighbors))

    def _init_like_official(self):
        """``initialize_weights(net, 0.1)``: Kaiming-normal (fan_in, ReLU gain) x 0.1, zero bias.

        Official training applies it to every Conv2d, the frozen VGG and mean shifts included; here
        only trainable ones (the VGG gets the same draw, see ``vgg_weights``; the mean shifts keep
        their values).
        """
        for layer in self.sublayers():
            if isinstance(layer, nn.Conv2D) and not isinstance(layer, MeanShift):
                fan_in = int(np.prod(layer.weight.shape[1:]))
                layer.weight.set_value(paddle.normal(0.0, math.sqrt(2.0 / fan_in), layer.weight.shape) * 0.1)
                layer.bias.set_value(paddle.zeros_like(layer.bias))

    def _padded_size(self, h, w):
        """(H', W') >= (H, W) the official forward runs on; (H, W) whenever it runs on those.

        Two failures are padded away: a son (ceil(H/s) rows) and pixel-unshuffled features
        (floor(H/s) rows) with different patch-grid sizes (then H' = next multiple of s), and
        fewer than k candidate son patches (then both sides >= ``min_side``).
        """
        s, k = self.graph_scale, self.k

        def consistent(n):
            up = (n + s - 1) // s
            return paddle.where(up // 2 != (n // s) // 2, up * s, n)

        hp, wp = consistent(h), consistent(w)
        n1, n2 = (hp + s - 1) // s // 2, (wp + s - 1) // s // 2
        if self.with_window:
            full = paddle.logical_and(n1 <= self.window_size, n2 <= self.window_size)
        else:
            full = paddle.ones_like(n1, dtype="bool")
        nmin = paddle.minimum(n1, n2)
        fail = paddle.where(full, n1 * n2 < k, nmin * nmin < k)
        side = paddle.full_like(hp, self.min_side)
        return paddle.where(fail, paddle.maximum(hp, side), hp), paddle.where(fail, paddle.maximum(wp, side), wp)

    def forward_native(self, x):
        h, w = paddle.shape(x)[2], paddle.shape(x)[3]
        hp, wp = self._padded_size(h, w)
        x = paddle.index_select(x, paddle.minimum(paddle.arange(0, hp, dtype="int64"), h - 1), axis=2)
        x = paddle.index_select(x, paddle.minimum(paddle.arange(0, wp, dtype="int64"), w - 1), axis=3)
        # The official data loader's son: imresize(lr / 255, 1 / s) * 255, clamped to [0, 255].
        x_son = paddle.clip(self.son(x), 0.0, 255.0)
        idx_k, diff_patch = self.graph(x_son, x)
        x = self.sub_mean(x)
        x0 = self.head(x)
        x1 = self.body1(x0)
        x1_lr, x1_hr = self.gcn(x1, idx_k, diff_patch)
        x1 = self.fuse_b(paddle.concat([x1, x1_lr], axis=1))
        x2 = self.body2(x1) + x0
        x = self.upsample(x2)
        x = self.fuse_up(paddle.concat([x, x1_hr], axis=1))
        x = self.add_mean(self.tail(x))
        return x[:, :, :h * self.scale, :w * self.scale]


@register("ignn", scales=(2, 3, 4))
def ignn(scale=4, **kwargs):
    """The paper's / official configuration (``config.py``): 32 blocks, 256 features, k = 5, window 30."""
    return IGNN(scale=scale, **kwargs)

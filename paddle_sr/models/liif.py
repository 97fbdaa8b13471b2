"""LIIF — Learning Continuous Image Representation with Local Implicit Image Function
(Chen, Liu, Wang, CVPR 2021, arXiv:2012.09161).

Port of the official yinboc/liif ``models/liif.py`` and ``models/mlp.py`` with their parameter names
(``encoder.*``, ``imnet.layers.{0,2,4,6,8}``): an encoder without upsampler (RDN config B, or the
EDSR baseline), then an MLP (4 x 256 hidden, ReLU) queried at continuous coordinates with feature
unfolding (3x3 neighbourhood, 9C channels), local ensemble (4 shifted queries, area-weighted, the
areas swapped diagonally) and cell decoding (cell size in units of the feature grid).
``render`` is the official ``batched_predict`` + ``demo.py``: any output size, queries in batches.

Differences from the official code:
- Official inputs are [0, 1] normalised by (x - 0.5) / 0.5, which is exactly the suite's [-1, 1];
  the outputs are de-normalised the same way, so ``value_range`` is (-1, 1) and ``forward(lr)``
  returns the SR image at ``self.scale`` (output size ``round(H * scale)``, as official ``test.py``).
- ``query_rgb(feat, coord, cell)`` takes the features as an argument instead of reading the state
  ``self.feat`` that ``gen_feat`` leaves behind (no hidden state between calls).
- ``grid_sample(mode='nearest', align_corners=False)`` is computed as an explicit index + gather:
  Paddle's nearest mode rounds ties (queries exactly on a cell border, e.g. x2.5 without local
  ensemble) differently from PyTorch's round-half-to-even, which picks another cell. The
  index follows PyTorch (``((c + 1) * size - 1) / 2``, half-to-even, zeros outside).
- Query grids and cells are built with Paddle ops from the (possibly dynamic) shape, bit-identical
  to ``make_coord``, so ``forward`` exports with dynamic H/W (``paddle_sr.export``) as a fixed-scale
  renderer at ``self.scale``: in the static graph the output size is Python's ``round(H * scale)``
  computed on the shape tensor in float64, and all queries run in one batch (eager: 30000 at a time).
- ``render`` does not switch gradients off (the official ``batched_predict`` runs under
  ``no_grad``); callers use ``paddle.no_grad()`` as elsewhere in the suite.
- The EDSR encoder keeps its ``sub_mean``/``add_mean`` parameters but does not apply them, as LIIF's
  copy of EDSR (mean shift commented out); both encoders carry the suite's ``value_range`` buffer.
- Paddle ``Linear`` weights are [in, out] (PyTorch [out, in]); the weight converter transposes.
- Initialisation is PyTorch's default (``common.init_like_torch``) for the MLP and the RDN encoder
  (the EDSR encoder does it itself), because the official code trains from it.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_sr.core.errors import SRError
from paddle_sr.models._registry import register
from paddle_sr.models.common import SRModel, init_like_torch
from paddle_sr.models.edsr import EDSR
from paddle_sr.models.rdn import RDN


class MLP(nn.Layer):
    """Linear-ReLU per hidden width, then a Linear to ``out_dim`` (official ``models/mlp.py``)."""

    def __init__(self, in_dim, out_dim, hidden_list):
        super().__init__()
        layers, last = [], in_dim
        for hidden in hidden_list:
            layers += [nn.Linear(last, hidden), nn.ReLU()]
            last = hidden
        layers.append(nn.Linear(last, out_dim))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        # As 2-D rows (one GEMM); the leading dims come back from the shape tensor (dynamic in export).
        out = self.layers(x.reshape([-1, x.shape[-1]]))
        return out.reshape(paddle.concat([paddle.shape(x)[:-1], paddle.shape(out)[-1:]]))


def _dim(x, axis):
    """Size of ``axis``: a Python int in eager mode, a 0-D int64 tensor in a static graph, where
    ``x.shape`` holds -1 for the dynamic height/width of an exported model."""
    return x.shape[axis] if paddle.in_dynamic_mode() else paddle.shape(x)[axis]


def _f64(v):
    """``v`` (a Python number or integer tensor) as a float64 tensor. Static graphs store a Python
    scalar operand as a float32 attribute, which would round constants such as 1e-6 or 3.3."""
    return paddle.full([], v, "float64") if isinstance(v, (int, float)) else v.astype("float64")


def _round(v):
    """Python's ``round`` (half to even) of a float64 tensor, as int64."""
    f = paddle.floor(v)
    d = v - f  # exact
    # Compared with a float64 tensor (a Python float would round ``d`` to float32) and never with
    # ``==``, which Paddle evaluates with a 1e-8 tolerance on floats: a tie is "neither < nor >".
    half = _f64(0.5)
    up = (d > half) | (~(d < half) & (paddle.remainder(f, _f64(2.0)) > half))  # ties to the even integer
    return (f + up.astype("float64")).astype("int64")


def _coord_axis(n, index=None):
    """Centres of cells ``index`` (default: all) of ``n`` cells in (-1, 1): ``make_coord`` with Paddle
    ops, so ``n`` may be a tensor (a dynamic size in an exported graph).

    Bit-identical to ``make_coord``: r = 2 / (2n) = 1 / n in float64, then float32(r - 1) +
    float32(2r) * i in float32, one rounding per operation.
    """
    r = _f64(1.0) / _f64(n)
    index = paddle.arange(n) if index is None else index
    return (r - _f64(1.0)).astype("float32") + (r * _f64(2.0)).astype("float32") * index.astype("float32")


def _coord_grid(h, w):
    """``make_coord((h, w))`` as a Paddle tensor [h*w, 2] of (y, x); h, w ints or 0-D tensors."""
    y, x = paddle.meshgrid(_coord_axis(h), _coord_axis(w))
    return paddle.stack([y, x], axis=-1).reshape([-1, 2])


def _nearest_index(c, size):
    """PyTorch's nearest source index for normalised coordinates ``c`` (align_corners=False)."""
    u = ((c + 1) * size - 1) / 2
    tie = paddle.abs(u - paddle.trunc(u)) == 0.5
    return paddle.where(tie, 2 * paddle.round(u / 2), paddle.round(u)).astype("int64")  # half to even


def _sample_nearest(feat_t, coord, h, w, zeros_outside=True):
    """``grid_sample(feat, coord.flip(-1), 'nearest')`` as a gather; returns values and (iy, ix).

    ``feat_t`` is [B, h*w, C]; ``coord`` [B, Q, 2] holds (y, x) in [-1, 1]; ``h``, ``w`` ints or
    0-D int64 tensors. Out-of-range indices are clipped (and zeroed when ``zeros_outside``).
    """
    hf, wf = _f64(h).astype("float32"), _f64(w).astype("float32")
    iy, ix = _nearest_index(coord[..., 0], hf), _nearest_index(coord[..., 1], wf)
    iy_c, ix_c = iy.clip(0, h - 1), ix.clip(0, w - 1)
    batch = paddle.arange(_dim(coord, 0), dtype="int64").unsqueeze(-1) + paddle.zeros_like(iy_c)
    out = paddle.gather_nd(feat_t, paddle.stack([batch, iy_c * w + ix_c], axis=-1))  # [B, Q, C]
    if zeros_outside:  # grid_sample's padding_mode='zeros'
        inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
        out = out * inside.unsqueeze(-1).astype(out.dtype)
    return out, iy_c, ix_c


class LIIF(SRModel):
    """Local implicit image function on top of a feature encoder.

    Args:
        encoder: an ``SRModel`` returning features (``no_upsampling=True``) with attribute ``out_dim``.
        scale: default upscaling factor of ``forward`` (any float >= 1).
        hidden_list: MLP hidden widths (official 4 x 256); None: no MLP, nearest feature lookup.
        local_ensemble, feat_unfold, cell_decode: the paper's three techniques (all on officially).
        value_range: range the weights work on (official LIIF: [-1, 1]).
    """

    def __init__(self, encoder, scale=4, hidden_list=(256, 256, 256, 256), local_ensemble=True,
                 feat_unfold=True, cell_decode=True, value_range=(-1.0, 1.0)):
        super().__init__(value_range)
        self.scale = float(scale)
        self.local_ensemble, self.feat_unfold, self.cell_decode = local_ensemble, feat_unfold, cell_decode
        self.encoder = encoder
        self.imnet = None
        if hidden_list is not None:
            in_dim = encoder.out_dim * (9 if feat_unfold else 1) + 2 + (2 if cell_decode else 0)
            self.imnet = init_like_torch(MLP(in_dim, 3, hidden_list))  # official trains from PyTorch's init

    def gen_feat(self, x):
        # forward_native: LIIF's own value_range already mapped x; the encoder must not map it again.
        return self.encoder.forward_native(x)

    def query_rgb(self, feat, coord, cell=None):
        """RGB at ``coord`` [B, Q, 2] ((y, x) in [-1, 1]) with cell sizes ``cell`` [B, Q, 2] -> [B, Q, 3]."""
        h, w = _dim(feat, 2), _dim(feat, 3)
        if self.imnet is None:
            return _sample_nearest(feat.flatten(2).transpose([0, 2, 1]), coord, h, w)[0]
        if self.feat_unfold:
            feat = F.unfold(feat, 3, paddings=1).reshape([0, feat.shape[1] * 9, h, w])
        feat_t = feat.flatten(2).transpose([0, 2, 1])  # [B, h*w, C'] rows to gather
        size = paddle.stack([_f64(h), _f64(w)]).astype("float32")
        if self.local_ensemble:
            shifts, eps = (-1, 1), 1e-6  # eps keeps a shifted query off the cell border
        else:
            shifts, eps = (0,), 0.0
        rx, ry = _f64(1.0) / _f64(h), _f64(1.0) / _f64(w)  # half a cell (field radius) along y and x: 2 / h / 2
        preds, areas = [], []
        for vx in shifts:
            for vy in shifts:
                # float64 like the official Python floats, rounded to float32 once
                delta = paddle.stack([rx * _f64(vx) + _f64(eps), ry * _f64(vy) + _f64(eps)]).astype("float32")
                # Clamped inside (-1, 1): every index is in range, so no zero padding is needed.
                coord_ = (coord + delta).clip(-1 + 1e-6, 1 - 1e-6)
                q_feat, iy, ix = _sample_nearest(feat_t, coord_, h, w, zeros_outside=False)
                q_coord = paddle.stack([_coord_axis(h, iy), _coord_axis(w, ix)], axis=-1)  # feature cell centres
                rel_coord = (coord - q_coord) * size
                inp = [q_feat, rel_coord]
                if self.cell_decode:
                    inp.append(cell * size)
                preds.append(self.imnet(paddle.concat(inp, axis=-1)))
                areas.append(paddle.abs(rel_coord[..., 0] * rel_coord[..., 1]) + 1e-9)
        tot_area = areas[0]
        for area in areas[1:]:
            tot_area = tot_area + area
        if self.local_ensemble:  # each prediction is weighted by the area of the diagonally opposite one
            areas = areas[::-1]
        ret = 0
        for pred, area in zip(preds, areas):
            ret = ret + pred * (area / tot_area).unsqueeze(-1)
        return ret

    def _render(self, x, out_size, bsize):
        """SR at ``out_size`` (ints, or 0-D tensors in a static graph, where ``bsize`` must be None)."""
        h, w = out_size
        coord = _coord_grid(h, w).unsqueeze(0).expand([_dim(x, 0), -1, -1])
        cell = paddle.stack([_f64(2.0) / _f64(h), _f64(2.0) / _f64(w)]).astype("float32").expand_as(coord)
        feat = self.gen_feat(x)
        if bsize is None:
            pred = self.query_rgb(feat, coord, cell)
        else:
            preds = [self.query_rgb(feat, coord[:, i:i + bsize], cell[:, i:i + bsize]) for i in range(0, h * w, bsize)]
            pred = preds[0] if len(preds) == 1 else paddle.concat(preds, axis=1)
        return pred.reshape([0, h, w, -1]).transpose([0, 3, 1, 2])

    def _size(self, x, scale):
        return round(x.shape[-2] * scale), round(x.shape[-1] * scale)

    def forward_native(self, x):
        if paddle.in_dynamic_mode():
            return self._render(x, self._size(x, self.scale), 30000)
        # Static graph (export, dynamic H/W): the output size from the shape tensor, exactly as Python's
        # round(H * scale) in float64, and all queries in one batch (a graph has no Python loop over a
        # size it does not know yet; tiled inference bounds the memory instead).
        scale = _f64(float(self.scale))
        return self._render(x, (_round(_f64(_dim(x, 2)) * scale), _round(_f64(_dim(x, 3)) * scale)), None)

    def render(self, lr, out_size=None, scale=None, bsize=30000):
        """SR of ``lr`` (suite range) at ``out_size`` (H, W) or ``scale``, ``bsize`` queries at a time.

        Neither given: ``self.scale``. ``bsize=None`` queries every pixel at once.
        """
        if out_size is not None and scale is not None:
            raise SRError("render takes out_size or scale, not both; pass one of them")
        if out_size is None:
            scale = self.scale if scale is None else scale
            if not float(scale) > 0:
                raise SRError(f"render needs a positive scale, got {scale}")
            out_size = self._size(lr, scale)
        out_size = tuple(int(s) for s in out_size)
        if len(out_size) != 2 or min(out_size) < 1:
            raise SRError(f"out_size must be (height, width) with both >= 1, got {out_size}")
        if bsize is not None and int(bsize) < 1:
            raise SRError(f"bsize must be a positive number of queries (or None for all), got {bsize}")
        return self.from_native(self._render(self.to_native(lr), out_size, bsize))


@register("liif", scales=None)
def liif(scale=4, encoder_kwargs=None, **kwargs):
    """RDN-LIIF: RDN config B (G0=64) without upsampler as encoder."""
    encoder = init_like_torch(RDN(**{"no_upsampling": True, **(encoder_kwargs or {})}))  # as official LIIF
    return LIIF(encoder, scale=scale, **kwargs)


@register("liif_edsr_baseline", scales=None)
def liif_edsr_baseline(scale=4, encoder_kwargs=None, **kwargs):
    """EDSR-baseline-LIIF: 16 x 64 EDSR body, no upsampler, no mean shift, LIIF's ``rgb_range=1``."""
    defaults = {"n_resblocks": 16, "n_feats": 64, "res_scale": 1.0, "rgb_range": 1, "no_upsampling": True,
                "mean_shift": False, "value_range": (-1.0, 1.0)}
    return LIIF(EDSR(**{**defaults, **(encoder_kwargs or {})}), scale=scale, **kwargs)


class LiifQuery(nn.Layer):
    """LIIF's training forward (RGB at sampled HR coordinates) as a layer, so DataParallel can wrap it."""

    def __init__(self, liif):
        super().__init__()
        self.liif = liif

    def forward(self, lr, coord, cell):
        m = self.liif
        return m.from_native(m.query_rgb(m.gen_feat(m.to_native(lr)), coord, cell))

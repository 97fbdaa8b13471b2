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

from . import register
from .common import SRModel, init_like_torch, make_coord
from .edsr import EDSR
from .rdn import RDN
from ..errors import SRError


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
        return self.layers(x.reshape([-1, x.shape[-1]])).reshape(x.shape[:-1] + [-1])


def _nearest_index(c, size):
    """PyTorch's nearest source index for normalised coordinates ``c`` (align_corners=False)."""
    u = ((c + 1) * size - 1) / 2
    tie = paddle.abs(u - paddle.trunc(u)) == 0.5
    return paddle.where(tie, 2 * paddle.round(u / 2), paddle.round(u)).astype("int64")  # half to even


def _sample_nearest(feat_t, coord, h, w, zeros_outside=True):
    """``grid_sample(feat, coord.flip(-1), 'nearest')`` as a gather; returns values and flat indices.

    ``feat_t`` is [B, h*w, C]; ``coord`` [B, Q, 2] holds (y, x) in [-1, 1].
    """
    iy, ix = _nearest_index(coord[..., 0], h), _nearest_index(coord[..., 1], w)
    idx = iy.clip(0, h - 1) * w + ix.clip(0, w - 1)
    b, q = idx.shape
    offset = paddle.arange(b, dtype="int64").unsqueeze(-1) * (h * w)  # rows of a [B*h*w, C] table
    out = paddle.gather(feat_t.reshape([b * h * w, -1]), (idx + offset).flatten()).reshape([b, q, -1])
    if zeros_outside:  # grid_sample's padding_mode='zeros'
        inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
        out = out * inside.unsqueeze(-1).astype(out.dtype)
    return out, idx


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
        b, _, h, w = feat.shape
        if self.imnet is None:
            return _sample_nearest(feat.flatten(2).transpose([0, 2, 1]), coord, h, w)[0]
        if self.feat_unfold:
            feat = F.unfold(feat, 3, paddings=1).reshape([b, -1, h, w])
        feat_t = feat.flatten(2).transpose([0, 2, 1])  # [B, h*w, C'] rows to gather
        feat_coord = paddle.to_tensor(make_coord((h, w)))  # centres of the feature cells, [h*w, 2]
        size = paddle.to_tensor([h, w], dtype="float32")
        if self.local_ensemble:
            shifts, eps = (-1, 1), 1e-6  # eps keeps a shifted query off the cell border
        else:
            shifts, eps = (0,), 0.0
        rx, ry = 2 / h / 2, 2 / w / 2  # half a cell (field radius) along y and x
        preds, areas = [], []
        for vx in shifts:
            for vy in shifts:
                delta = paddle.to_tensor([vx * rx + eps, vy * ry + eps], dtype="float32")
                # Clamped inside (-1, 1): every index is in range, so no zero padding is needed.
                coord_ = (coord + delta).clip(-1 + 1e-6, 1 - 1e-6)
                q_feat, idx = _sample_nearest(feat_t, coord_, h, w, zeros_outside=False)
                q_coord = paddle.gather(feat_coord, idx.flatten()).reshape(coord.shape)
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
        h, w = out_size
        n = x.shape[0]
        coord = paddle.to_tensor(make_coord((h, w))).unsqueeze(0).expand([n, h * w, 2])
        cell = paddle.to_tensor([2 / h, 2 / w], dtype="float32").expand([n, h * w, 2])
        feat = self.gen_feat(x)
        step = bsize or h * w
        preds = [self.query_rgb(feat, coord[:, i:i + step], cell[:, i:i + step]) for i in range(0, h * w, step)]
        pred = preds[0] if len(preds) == 1 else paddle.concat(preds, axis=1)
        return pred.reshape([n, h, w, -1]).transpose([0, 3, 1, 2])

    def _size(self, x, scale):
        return round(x.shape[-2] * scale), round(x.shape[-1] * scale)

    def forward_native(self, x):
        return self._render(x, self._size(x, self.scale), 30000)

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

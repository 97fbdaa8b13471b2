"""LapSRN — Deep Laplacian Pyramid Networks for Fast and Accurate Super-Resolution (Lai et al., CVPR 2017,
arXiv:1704.03915).

Port of the official MatConvNet network (phoenix104104/LapSRN ``init_LapSRN.m``, ``SR_LapSRN.m``), with
its parameter names (MatConvNet ``<layer>_f`` / ``<layer>_b`` -> ``<layer>.weight`` / ``<layer>.bias``):
``input_conv``; per pyramid level ``level{s}_conv{1..d}``, ``level{s}_upconv``, ``level{s}_residual_conv``
(feature extraction branch) and ``level{s}_img_up`` (image reconstruction branch). As in the official
code, levels count DOWN: at x4 the first (x2) level is ``level2`` and the final output is ``level1``.
Each level: d 3x3 convs with 64 filters and LeakyReLU 0.2, a transposed conv that doubles the
features (3x3, MatConvNet crop [0 1 0 1]) + LeakyReLU, a 3x3 conv predicting the residual; the image is
doubled by a 4x4 transposed conv (bilinear init, crop 1) and the residual added. ``forward_levels``
returns every level's output for the multi-level Charbonnier loss (paper Eq. 1-2).

Depth per level: ``init_LapSRN_model.m`` gives every level its own ``depth`` convs (no weights shared
between levels; sharing is MS-LapSRN's, ``init_MSLapSRN_model.m``), and ``train_LapSRN(scale, depth)``
takes the depth as an argument. The released files: ``LapSRN_x2.mat`` and ``LapSRN_x4.mat`` have d = 10
per level (27 / 52 parameter arrays), ``LapSRN_x8.mat`` d = 5 per level (47 arrays: ``level{3,2,1}_conv{1..5}``,
each level with its own upconv, residual conv and img_up). The default ``depth`` follows them: 10 at x2/x4,
5 at x8, so ``convert --model lapsrn --scale 8 LapSRN_x8.mat`` needs no extra argument.

The networks are trained on the Y channel of YCbCr (paper Sec. 4; ``SR_LapSRN.m``): with the default
``n_colors=1`` an RGB input is converted (BT.601, MATLAB ``rgb2ycbcr``), Y goes through the network and
Cb/Cr are upsampled with MATLAB bicubic (``common.sr_on_y``), exactly as ``SR_LapSRN.m``; a 1-channel
input is treated as Y. ``n_colors=3`` builds an RGB variant (not in the paper).

Official weights: ``python -m paddle_sr.convert --model lapsrn --scale 2 LapSRN_x2.mat OUT.pdparams``
reads the MatConvNet DagNN file (``paddle_sr.weights.matconvnet``) and checks each layer's stride / pad / crop
against this port: the official files have exactly this structure (3x3 convs pad [1 1 1 1]; upconv 3x3,
upsample 2, crop [0 1 0 1]; img_up 4x4, upsample 2, crop [1 1 1 1]; LeakyReLU 0.2), so nothing was
changed. Set5 (x2 / x4 / x8): 37.517 / 31.539 / 26.143 dB by the official test_LapSRN.m protocol
(unquantised double LR, ``evaluate --lr-float``), 37.48 / 31.53 / 26.14 by the suite's uint8-LR protocol;
paper 37.52 / 31.54 / 26.14. Set14 meets the paper (33.084 / 28.187 at x2 / x4) when ``bridge.png`` is
scored as an RGB file (``--gray basicsr``), which is what LapSRN's evaluate_SR.m does with a 3-channel file.

Differences from the paper / official code:
- ``forward`` takes and returns the suite's [-1, 1]; the official network works on [0, 1]
  (``value_range=(0, 1)``).
- The feature upsampling is the official code's 3x3 transposed conv (4x4 only in the image branch);
  its weights alone count 812,768 at x4, the "812K" reported for LapSRN. twtygqyy/pytorch-LapSRN uses
  4x4 there and no biases, so its checkpoints do not fit this layout.
- MatConvNet trains biases with a 0.1x learning rate; that is an optimiser setting, not reproduced here.
- RGB variant only: the image upsampling filter starts as per-channel bilinear (diagonal), where
  MatConvNet's ``bilinear_u`` would fill every channel pair.
"""
import math

import numpy as np
import paddle
import paddle.nn as nn

from paddle_sr.core.errors import SRError
from paddle_sr.models._registry import register
from paddle_sr.models.common import MatlabBicubicUpsample, SRModel, rgb_to_ycbcr, ycbcr_to_rgb


def bilinear_kernel(k=4):
    """MatConvNet ``bilinear_u(k, 1, 1)``: the separable bilinear upsampling filter of size k."""
    factor = (k + 1) // 2
    center = factor if k % 2 else factor + 0.5
    t = 1 - np.abs(np.arange(1, k + 1) - center) / factor
    return np.outer(t, t)


def default_depth(scale):
    """Conv layers per level of the authors' released model at ``scale`` (see the module docstring)."""
    return 5 if scale == 8 else 10


def layout_of(state):
    """(scale, depth) of a LapSRN state dict from its names (``level{s}_conv{d}.weight``), or None."""
    levels, depths = set(), set()
    for k in state:
        head = k.split(".", 1)[0]
        if head.startswith("level") and "_conv" in head:
            lvl, _, d = head[len("level"):].partition("_conv")
            if lvl.isdigit() and d.isdigit():
                levels.add(int(lvl))
                depths.add(int(d))
    if not levels:
        return None
    return 2 ** max(levels), max(depths)


class LapSRN(SRModel):
    """Laplacian pyramid SR network, log2(scale) levels of x2.

    Args:
        scale: 2, 4 or 8 (1, 2 or 3 pyramid levels).
        depth: d, conv layers per level; default 10 at x2/x4, 5 at x8 (the authors' released files).
        n_feats: filters of the feature branch (64).
        n_colors: 1 = Y channel (paper; RGB inputs go through YCbCr), 3 = RGB variant.
        init_sigma: std of the input conv's initial weights (official ``init_opts.init_sigma``).
        value_range: range the weights work on; (0, 1) as the official code.
    """

    def __init__(self, scale=4, depth=None, n_feats=64, n_colors=1, init_sigma=1e-3, value_range=(0.0, 1.0)):
        super().__init__(value_range)
        if scale not in (2, 4, 8):
            raise SRError(f"LapSRN supports scale 2, 4 or 8, got {scale}")
        depth = default_depth(scale) if depth is None else int(depth)
        self.levels, self.depth, self.n_colors = int(math.log2(scale)), depth, n_colors
        f, n = 3, n_feats
        sigma = math.sqrt(2.0 / (f * f * n))  # official: the same std for every deep conv / upconv / residual conv
        self.input_conv = nn.Conv2D(n_colors, n, f, padding=1, **self._init(init_sigma))
        self.lrelu = nn.LeakyReLU(0.2)
        for s in range(self.levels, 0, -1):
            for d in range(1, depth + 1):
                setattr(self, f"level{s}_conv{d}", nn.Conv2D(n, n, f, padding=1, **self._init(sigma)))
            # MatConvNet crop [0 1 0 1]: drop the last row/column of the (2H+1)-sized transposed conv.
            setattr(self, f"level{s}_upconv",
                    nn.Conv2DTranspose(n, n, f, stride=2, padding=[0, 1, 0, 1], **self._init(sigma)))
            setattr(self, f"level{s}_residual_conv", nn.Conv2D(n, n_colors, f, padding=1, **self._init(sigma)))
            eye = np.eye(n_colors)[:, :, None, None]
            bilinear = nn.initializer.Assign((eye * bilinear_kernel(4)).astype("float32"))
            setattr(self, f"level{s}_img_up", nn.Conv2DTranspose(n_colors, n_colors, 4, stride=2, padding=1,
                                                                 weight_attr=bilinear, bias_attr=False))
        # Cb/Cr of each level, MATLAB bicubic as SR_LapSRN.m (no parameters, nothing in the state dict).
        self.chroma_up = nn.LayerList([MatlabBicubicUpsample(2 ** k) for k in range(1, self.levels + 1)])

    @staticmethod
    def _init(std):
        # Initializers, not set_value: the model also builds under paddle.LazyGuard (shapes only),
        # which convert uses to name the scale a mismatched file fits.
        return {"weight_attr": nn.initializer.Normal(0.0, std), "bias_attr": nn.initializer.Constant(0.0)}

    def _pyramid(self, y):
        """Official DAG on ``n_colors``-channel input (native range): outputs of levels L, ..., 1."""
        feat, img, outs = self.lrelu(self.input_conv(y)), y, []
        for s in range(self.levels, 0, -1):
            for d in range(1, self.depth + 1):
                feat = self.lrelu(getattr(self, f"level{s}_conv{d}")(feat))
            feat = self.lrelu(getattr(self, f"level{s}_upconv")(feat))
            img = getattr(self, f"level{s}_img_up")(img) + getattr(self, f"level{s}_residual_conv")(feat)
            outs.append(img)
        return outs

    def _native_levels(self, x, last_only):
        if self.n_colors != 1 or x.shape[1] == 1:
            outs = self._pyramid(x)
            return outs[-1:] if last_only else outs
        vr = (self.value_range[0], self.value_range[1])
        ycc = rgb_to_ycbcr(x, vr)
        ys = self._pyramid(ycc[:, :1])
        pairs = list(zip(ys, self.chroma_up))
        return [ycbcr_to_rgb(paddle.concat([y, up(ycc[:, 1:])], axis=1), vr)
                for y, up in (pairs[-1:] if last_only else pairs)]

    def forward_native(self, x):
        return self._native_levels(x, last_only=True)[0]

    def forward_levels(self, lr):
        """Suite-range outputs of every level, x2 first (x2, x4[, x8]): the multi-level loss targets."""
        return [self.from_native(o) for o in self._native_levels(self.to_native(lr), last_only=False)]


@register("lapsrn", scales=(2, 4, 8))
def lapsrn(scale=4, **kwargs):
    return LapSRN(scale=scale, **kwargs)

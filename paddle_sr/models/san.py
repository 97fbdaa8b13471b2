"""SAN — Second-order Attention Network for Single Image Super-Resolution (Dai et al., CVPR 2019;
no arXiv version: https://openaccess.thecvf.com/content_CVPR_2019/html/Dai_Second-Order_Attention_Network_for_Single_Image_Super-Resolution_CVPR_2019_paper.html).

Port of the official ``TrainCode/model/san.py`` + ``MPNCOV.py`` (daitao/SAN) with its parameter
names: ``sub_mean``, ``head.0``, the share-source residual group (SSRG) of G local-source residual
attention groups ``RG.{g}`` (LSRAG: ``rcab.{b}.conv_first.{0,2}`` residual blocks, second-order
channel attention ``soca.conv_du.{0,2}``, ``conv_last``), the share-source weight ``gamma``, the
region-level non-local module ``non_local.non_local.{g,theta,phi,W}`` (used before and after the
SSRG, with shared weights), ``tail.0.*`` / ``tail.1``, ``add_mean``. Official checkpoints convert by
identity.

Second-order channel attention (SOCA): covariance pooling of the C x HW feature matrix, its matrix
square root by 5 Newton-Schulz iterations with pre-normalisation by the trace and
post-compensation (iSQRT-COV), the mean of each row as a channel descriptor, then the RCAN-style
gate. The official code wraps both steps in autograd Functions with hand-written backward passes;
here Paddle's autograd differentiates the same iterations (equal gradients, checked against the
official Functions in ``tests/test_zoo_attention.py``). Covariance is computed as
``(x - mean) (x - mean)^T / M``, equal to the official ``x I_hat x^T`` without its M x M matrix.

Differences from the official code:
- Parameters the official forward never uses are kept (same names, same counts, official
  checkpoints load) but frozen, since they cannot receive a gradient: every ``RG.{g}.gamma``, the
  SSRG's ``conv_last`` and the non-local module's own ``non_local.soca``.
- SOCA centre-crops the features to at most 1000 pixels per side before pooling, as official; the
  official branch for a side of exactly 1000 next to a shorter one computes a negative offset (a
  bug); here only sides longer than 1000 are cropped.
- The region-level non-local block splits the features into 4 quadrants and attends within each;
  its memory grows with (HW/4)^2, so large images need tiled inference (``--tile``), as the official
  test code chops them.
- ``forward`` takes and returns the suite's [-1, 1]; ``forward_native`` works on [0, 255].
- A later variant in the same repository (``code/model/san.py``: ``NLRG``/``RLNL``, non-local width
  C/4, 200-pixel SOCA crop, long skip from the non-local output) is not the one ported.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_sr.models._registry import register
from paddle_sr.models.common import MeanShift, SRModel, Upsampler, default_conv, init_like_torch

SOCA_CROP = 1000  # official: covariance of at most the central 1000 x 1000 pixels


def _centre(n, size):
    """(start, stop) of the central ``size`` of an axis of length ``n`` (the whole axis if shorter)."""
    if isinstance(n, int):
        start = max((n - size) // 2, 0)
        return start, start + min(n, size)
    start = paddle.maximum((n - size) // 2, paddle.zeros_like(n))  # exported graph: dynamic size
    return start, start + paddle.minimum(n, paddle.full_like(n, size))


def covariance_pool(x):
    """(B, C, H, W) -> (B, C, C) covariance of the C channels over the H*W positions (MPN-COV Covpool)."""
    x = x.flatten(2)
    xc = x - x.mean(axis=2, keepdim=True)
    return xc @ xc.transpose([0, 2, 1]) / x.shape[2]


def sqrtm_newton_schulz(cov, iter_n=5):
    """Matrix square root of SPD (B, C, C) matrices: MPN-COV ``Sqrtm`` (iSQRT-COV), ``iter_n`` >= 2.

    Pre-normalise by the trace, coupled Newton-Schulz iterations Y -> A^(1/2), Z -> A^(-1/2) (the
    last step computes Y only), post-compensate by sqrt(trace).
    """
    c = cov.shape[1]
    i3 = 3.0 * paddle.eye(c, dtype=cov.dtype)
    norm_a = paddle.diagonal(cov, axis1=1, axis2=2).sum(axis=1).reshape([-1, 1, 1])
    a = cov / norm_a
    zy = 0.5 * (i3 - a)
    y, z = a @ zy, zy
    for _ in range(1, iter_n - 1):
        zy = 0.5 * (i3 - z @ y)
        y, z = y @ zy, zy @ z
    return 0.5 * y @ (i3 - z @ y) * paddle.sqrt(norm_a)


class SOCA(nn.Layer):
    """Second-order channel attention: gate = sigmoid(W_U relu(W_D mean_rows(sqrtm(cov(x)))))."""

    def __init__(self, channel, reduction=8):
        super().__init__()
        self.conv_du = nn.Sequential(nn.Conv2D(channel, channel // reduction, 1), nn.ReLU(),
                                     nn.Conv2D(channel // reduction, channel, 1), nn.Sigmoid())

    def forward(self, x):
        (h0, h1), (w0, w1) = _centre(x.shape[2], SOCA_CROP), _centre(x.shape[3], SOCA_CROP)
        cov_sqrt = sqrtm_newton_schulz(covariance_pool(x[:, :, h0:h1, w0:w1]), 5)
        return self.conv_du(cov_sqrt.mean(axis=1).unsqueeze(-1).unsqueeze(-1)) * x


class NONLocalBlock2D(nn.Layer):
    """Embedded-Gaussian non-local block without sub-sampling or BN; ``W`` starts at zero (identity)."""

    def __init__(self, in_channels, inter_channels):
        super().__init__()
        self.inter_channels = inter_channels
        self.g = nn.Conv2D(in_channels, inter_channels, 1)
        self.W = nn.Conv2D(inter_channels, in_channels, 1)
        self.theta = nn.Conv2D(in_channels, inter_channels, 1)
        self.phi = nn.Conv2D(in_channels, inter_channels, 1)

    def forward(self, x):
        g_x = self.g(x).flatten(2).transpose([0, 2, 1])            # (B, HW, C')
        theta_x = self.theta(x).flatten(2).transpose([0, 2, 1])    # (B, HW, C')
        phi_x = self.phi(x).flatten(2)                             # (B, C', HW)
        y = F.softmax(theta_x @ phi_x, axis=-1) @ g_x
        y = y.transpose([0, 2, 1]).reshape([0, self.inter_channels, x.shape[2], x.shape[3]])
        return self.W(y) + x


class Nonlocal_CA(nn.Layer):
    """Region-level non-local (RL-NL): the same non-local block applied to each quadrant.

    ``soca`` exists in the official module (and its checkpoints) but is never called.
    """

    def __init__(self, in_feat=64, inter_feat=32, reduction=8):
        super().__init__()
        self.soca = SOCA(in_feat, reduction=reduction)
        self.non_local = NONLocalBlock2D(in_feat, inter_feat)

    def forward(self, x):
        h1, w1 = x.shape[2] // 2, x.shape[3] // 2
        top = paddle.concat([self.non_local(x[:, :, :h1, :w1]), self.non_local(x[:, :, :h1, w1:])], axis=3)
        bottom = paddle.concat([self.non_local(x[:, :, h1:, :w1]), self.non_local(x[:, :, h1:, w1:])], axis=3)
        return paddle.concat([top, bottom], axis=2)


class RB(nn.Layer):
    """Residual block: conv-ReLU-conv plus the input (no scaling, no attention)."""

    def __init__(self, conv, n_feat, kernel_size):
        super().__init__()
        self.conv_first = nn.Sequential(conv(n_feat, n_feat, kernel_size), nn.ReLU(), conv(n_feat, n_feat, kernel_size))

    def forward(self, x):
        return self.conv_first(x) + x


class LSRAG(nn.Layer):
    """Local-source residual attention group: M residual blocks, SOCA, conv, plus the group input."""

    def __init__(self, conv, n_feat, kernel_size, reduction, n_resblocks):
        super().__init__()
        self.rcab = nn.LayerList([RB(conv, n_feat, kernel_size) for _ in range(n_resblocks)])
        self.soca = SOCA(n_feat, reduction=reduction)
        self.conv_last = conv(n_feat, n_feat, kernel_size)
        self.gamma = self.create_parameter([1], default_initializer=nn.initializer.Constant(0.0))  # unused

    def forward(self, x):
        residual = x
        for block in self.rcab:
            x = block(x)
        return self.conv_last(self.soca(x)) + residual


class SAN(SRModel):
    """Second-order attention network.

    Args:
        scale: upscaling factor (2, 3, 4 or 8).
        n_resgroups: G, LSRAGs in the SSRG (20).
        n_resblocks: M, residual blocks per LSRAG (10).
        n_feats: C, feature channels (64).
        reduction: r, SOCA channel reduction (16).
        n_colors: image channels.
        rgb_range: the range the DIV2K mean is scaled to in ``sub_mean``/``add_mean``.
        value_range: range the weights work on; (0, 255) as the official weights.
    """

    def __init__(self, scale=4, n_resgroups=20, n_resblocks=10, n_feats=64, reduction=16, n_colors=3,
                 rgb_range=255, value_range=(0, 255)):
        super().__init__(value_range)
        conv, k = default_conv, 3
        self.sub_mean = MeanShift(rgb_range)
        self.gamma = self.create_parameter([1], default_initializer=nn.initializer.Constant(0.0))
        self.RG = nn.LayerList([LSRAG(conv, n_feats, k, reduction, n_resblocks) for _ in range(n_resgroups)])
        self.conv_last = conv(n_feats, n_feats, k)  # unused by the official forward
        self.tail = nn.Sequential(Upsampler(conv, scale, n_feats), conv(n_feats, n_colors, k))
        self.add_mean = MeanShift(rgb_range, sign=1)
        self.non_local = Nonlocal_CA(in_feat=n_feats, inter_feat=n_feats // 8, reduction=8)
        self.head = nn.Sequential(conv(n_colors, n_feats, k))
        init_like_torch(self)  # official: PyTorch default init ...
        w = self.non_local.non_local.W  # ... except the non-local output conv, zero (block = identity)
        w.weight.set_value(paddle.zeros_like(w.weight))
        w.bias.set_value(paddle.zeros_like(w.bias))
        unused = [g.gamma for g in self.RG] + list(self.conv_last.parameters()) + list(self.non_local.soca.parameters())
        for p in unused:
            p.stop_gradient = True

    def forward_native(self, x):
        x = self.head(self.sub_mean(x))
        xx = self.non_local(x)
        residual = xx
        for group in self.RG:  # share-source skip: every group also adds gamma * its SSRG input
            xx = group(xx) + self.gamma * residual
        res = self.non_local(xx) + x
        return self.add_mean(self.tail(res))


@register("san", scales=(2, 3, 4, 8))
def san(scale=4, **kwargs):
    return SAN(scale=scale, **kwargs)

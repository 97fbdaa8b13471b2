"""PyTorch references for ESRGAN, WDSR and LapSRN, re-typed for parity tests. Test-only (needs torch).

- ESRGAN: XPixelGroup/BasicSR ``basicsr/archs/rrdbnet_arch.py`` (``ResidualDenseBlock``, ``RRDB``,
  ``RRDBNet``), ``arch_util.pixel_unshuffle`` / ``make_layer`` / ``default_init_weights`` and
  ``discriminator_arch.py`` (``VGGStyleDiscriminator``), structurally identical.
- WDSR: JiahuiYu/wdsr_ntire2018 ``wdsr_a.py`` / ``wdsr_b.py`` ``MODEL`` (``torch.nn.utils.weight_norm``
  on every conv, ``args`` namespace), with ``.cuda()`` on ``rgb_mean`` replaced by ``.to(x.device)``.
- LapSRN: the official network is MatConvNet (phoenix104104/LapSRN ``init_LapSRN.m``); this is that DAG
  transcribed layer by layer into PyTorch, MatConvNet's ``ConvTranspose`` crop [0 1 0 1] done as a
  padding-0 transposed conv followed by dropping the last row and column, crop 1 as padding 1.
  Parameter names are the MatConvNet ones with ``_f``/``_b`` -> ``.weight``/``.bias``.
"""
import math
from types import SimpleNamespace

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---- BasicSR arch_util ---------------------------------------------------------------------------
@torch.no_grad()
def default_init_weights(module_list, scale=1, bias_fill=0, **kwargs):
    if not isinstance(module_list, list):
        module_list = [module_list]
    for module in module_list:
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, **kwargs)
                m.weight.data *= scale
                if m.bias is not None:
                    m.bias.data.fill_(bias_fill)


def make_layer(basic_block, num_basic_block, **kwarg):
    return nn.Sequential(*[basic_block(**kwarg) for _ in range(num_basic_block)])


def pixel_unshuffle(x, scale):
    b, c, hh, hw = x.size()
    out_channel = c * (scale**2)
    assert hh % scale == 0 and hw % scale == 0
    h = hh // scale
    w = hw // scale
    x_view = x.view(b, c, h, scale, w, scale)
    return x_view.permute(0, 1, 3, 5, 2, 4).reshape(b, out_channel, h, w)


# ---- BasicSR rrdbnet_arch ------------------------------------------------------------------------
class ResidualDenseBlock(nn.Module):
    def __init__(self, num_feat=64, num_grow_ch=32):
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        default_init_weights([self.conv1, self.conv2, self.conv3, self.conv4, self.conv5], 0.1)

    def forward(self, x):
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    def __init__(self, num_feat, num_grow_ch=32):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x):
        out = self.rdb1(x)
        out = self.rdb2(out)
        out = self.rdb3(out)
        return out * 0.2 + x


class RRDBNet(nn.Module):
    def __init__(self, num_in_ch, num_out_ch, scale=4, num_feat=64, num_block=23, num_grow_ch=32):
        super().__init__()
        self.scale = scale
        if scale == 2:
            num_in_ch = num_in_ch * 4
        elif scale == 1:
            num_in_ch = num_in_ch * 16
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = make_layer(RRDB, num_block, num_feat=num_feat, num_grow_ch=num_grow_ch)
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x):
        if self.scale == 2:
            feat = pixel_unshuffle(x, scale=2)
        elif self.scale == 1:
            feat = pixel_unshuffle(x, scale=4)
        else:
            feat = x
        feat = self.conv_first(feat)
        body_feat = self.conv_body(self.body(feat))
        feat = feat + body_feat
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode='nearest')))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode='nearest')))
        out = self.conv_last(self.lrelu(self.conv_hr(feat)))
        return out


# ---- BasicSR discriminator_arch ------------------------------------------------------------------
class VGGStyleDiscriminator(nn.Module):
    def __init__(self, num_in_ch, num_feat, input_size=128):
        super().__init__()
        self.input_size = input_size
        assert self.input_size == 128 or self.input_size == 256
        self.conv0_0 = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1, bias=True)
        self.conv0_1 = nn.Conv2d(num_feat, num_feat, 4, 2, 1, bias=False)
        self.bn0_1 = nn.BatchNorm2d(num_feat, affine=True)
        self.conv1_0 = nn.Conv2d(num_feat, num_feat * 2, 3, 1, 1, bias=False)
        self.bn1_0 = nn.BatchNorm2d(num_feat * 2, affine=True)
        self.conv1_1 = nn.Conv2d(num_feat * 2, num_feat * 2, 4, 2, 1, bias=False)
        self.bn1_1 = nn.BatchNorm2d(num_feat * 2, affine=True)
        self.conv2_0 = nn.Conv2d(num_feat * 2, num_feat * 4, 3, 1, 1, bias=False)
        self.bn2_0 = nn.BatchNorm2d(num_feat * 4, affine=True)
        self.conv2_1 = nn.Conv2d(num_feat * 4, num_feat * 4, 4, 2, 1, bias=False)
        self.bn2_1 = nn.BatchNorm2d(num_feat * 4, affine=True)
        self.conv3_0 = nn.Conv2d(num_feat * 4, num_feat * 8, 3, 1, 1, bias=False)
        self.bn3_0 = nn.BatchNorm2d(num_feat * 8, affine=True)
        self.conv3_1 = nn.Conv2d(num_feat * 8, num_feat * 8, 4, 2, 1, bias=False)
        self.bn3_1 = nn.BatchNorm2d(num_feat * 8, affine=True)
        self.conv4_0 = nn.Conv2d(num_feat * 8, num_feat * 8, 3, 1, 1, bias=False)
        self.bn4_0 = nn.BatchNorm2d(num_feat * 8, affine=True)
        self.conv4_1 = nn.Conv2d(num_feat * 8, num_feat * 8, 4, 2, 1, bias=False)
        self.bn4_1 = nn.BatchNorm2d(num_feat * 8, affine=True)
        if self.input_size == 256:
            self.conv5_0 = nn.Conv2d(num_feat * 8, num_feat * 8, 3, 1, 1, bias=False)
            self.bn5_0 = nn.BatchNorm2d(num_feat * 8, affine=True)
            self.conv5_1 = nn.Conv2d(num_feat * 8, num_feat * 8, 4, 2, 1, bias=False)
            self.bn5_1 = nn.BatchNorm2d(num_feat * 8, affine=True)
        self.linear1 = nn.Linear(num_feat * 8 * 4 * 4, 100)
        self.linear2 = nn.Linear(100, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x):
        assert x.size(2) == self.input_size
        feat = self.lrelu(self.conv0_0(x))
        feat = self.lrelu(self.bn0_1(self.conv0_1(feat)))
        feat = self.lrelu(self.bn1_0(self.conv1_0(feat)))
        feat = self.lrelu(self.bn1_1(self.conv1_1(feat)))
        feat = self.lrelu(self.bn2_0(self.conv2_0(feat)))
        feat = self.lrelu(self.bn2_1(self.conv2_1(feat)))
        feat = self.lrelu(self.bn3_0(self.conv3_0(feat)))
        feat = self.lrelu(self.bn3_1(self.conv3_1(feat)))
        feat = self.lrelu(self.bn4_0(self.conv4_0(feat)))
        feat = self.lrelu(self.bn4_1(self.conv4_1(feat)))
        if self.input_size == 256:
            feat = self.lrelu(self.bn5_0(self.conv5_0(feat)))
            feat = self.lrelu(self.bn5_1(self.conv5_1(feat)))
        feat = feat.view(feat.size(0), -1)
        feat = self.lrelu(self.linear1(feat))
        out = self.linear2(feat)
        return out


# ---- wdsr_ntire2018 wdsr_a.py / wdsr_b.py --------------------------------------------------------
class BlockA(nn.Module):
    def __init__(self, n_feats, kernel_size, block_feats, wn, res_scale=1, act=nn.ReLU(True)):
        super().__init__()
        self.res_scale = res_scale
        body = []
        body.append(wn(nn.Conv2d(n_feats, block_feats, kernel_size, padding=kernel_size // 2)))
        body.append(act)
        body.append(wn(nn.Conv2d(block_feats, n_feats, kernel_size, padding=kernel_size // 2)))
        self.body = nn.Sequential(*body)

    def forward(self, x):
        res = self.body(x) * self.res_scale
        res += x
        return res


class BlockB(nn.Module):
    def __init__(self, n_feats, kernel_size, wn, act=nn.ReLU(True), res_scale=1):
        super().__init__()
        self.res_scale = res_scale
        body = []
        expand = 6
        linear = 0.8
        body.append(wn(nn.Conv2d(n_feats, n_feats * expand, 1, padding=1 // 2)))
        body.append(act)
        body.append(wn(nn.Conv2d(n_feats * expand, int(n_feats * linear), 1, padding=1 // 2)))
        body.append(wn(nn.Conv2d(int(n_feats * linear), n_feats, kernel_size, padding=kernel_size // 2)))
        self.body = nn.Sequential(*body)

    def forward(self, x):
        res = self.body(x) * self.res_scale
        res += x
        return res


class WDSR(nn.Module):
    """The official ``MODEL`` of wdsr_a.py (variant 'A') / wdsr_b.py (variant 'B')."""

    def __init__(self, args, variant):
        super().__init__()
        self.args = args
        scale = args.scale[0]
        n_resblocks = args.n_resblocks
        n_feats = args.n_feats
        kernel_size = 3
        act = nn.ReLU(True)
        wn = lambda x: torch.nn.utils.weight_norm(x)  # noqa: E731
        self.rgb_mean = torch.autograd.Variable(torch.FloatTensor(
            [args.r_mean, args.g_mean, args.b_mean])).view([1, 3, 1, 1])
        head = [wn(nn.Conv2d(args.n_colors, n_feats, 3, padding=3 // 2))]
        body = []
        for _ in range(n_resblocks):
            if variant == "A":
                body.append(BlockA(n_feats, kernel_size, args.block_feats, wn=wn, res_scale=args.res_scale, act=act))
            else:
                body.append(BlockB(n_feats, kernel_size, act=act, res_scale=args.res_scale, wn=wn))
        out_feats = scale * scale * args.n_colors
        tail = [wn(nn.Conv2d(n_feats, out_feats, 3, padding=3 // 2)), nn.PixelShuffle(scale)]
        skip = [wn(nn.Conv2d(args.n_colors, out_feats, 5, padding=5 // 2)), nn.PixelShuffle(scale)]
        self.head = nn.Sequential(*head)
        self.body = nn.Sequential(*body)
        self.tail = nn.Sequential(*tail)
        self.skip = nn.Sequential(*skip)

    def forward(self, x):
        mean = self.rgb_mean.to(x.device)
        x = (x - mean * 255) / 127.5
        s = self.skip(x)
        x = self.head(x)
        x = self.body(x)
        x = self.tail(x)
        x += s
        x = x * 127.5 + mean * 255
        return x


def make_wdsr(variant, scale, n_resblocks=16, n_feats=32, block_feats=128, res_scale=1.0):
    args = SimpleNamespace(scale=[scale], n_resblocks=n_resblocks, n_feats=n_feats, block_feats=block_feats,
                           res_scale=res_scale, n_colors=3, r_mean=0.4488, g_mean=0.4371, b_mean=0.4040)
    return WDSR(args, variant)


# ---- LapSRN: init_LapSRN.m as PyTorch ------------------------------------------------------------
class LapSRNMatConvNet(nn.Module):
    def __init__(self, scale=4, depth=10, f=3, n=64, channels=1):
        super().__init__()
        self.level = int(math.ceil(math.log(scale) / math.log(2)))
        self.depth = depth
        pad = f // 2
        self.input_conv = nn.Conv2d(channels, n, f, padding=pad)
        for s in range(self.level, 0, -1):
            for d in range(1, depth + 1):
                setattr(self, f"level{s}_conv{d}", nn.Conv2d(n, n, f, padding=pad))
            setattr(self, f"level{s}_upconv", nn.ConvTranspose2d(n, n, f, stride=2, padding=0))
            setattr(self, f"level{s}_residual_conv", nn.Conv2d(n, channels, f, padding=pad))
            setattr(self, f"level{s}_img_up", nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1,
                                                                 bias=False))

    def forward(self, lr):
        """All level outputs: ``level{L}_output``, ..., ``level1_output``."""
        x = F.leaky_relu(self.input_conv(lr), 0.2)
        img, outs = lr, []
        for s in range(self.level, 0, -1):
            for d in range(1, self.depth + 1):
                x = F.leaky_relu(getattr(self, f"level{s}_conv{d}")(x), 0.2)
            x = getattr(self, f"level{s}_upconv")(x)[:, :, :-1, :-1]  # crop [0 1 0 1]
            x = F.leaky_relu(x, 0.2)
            residual = getattr(self, f"level{s}_residual_conv")(x)
            img = getattr(self, f"level{s}_img_up")(img) + residual
            outs.append(img)
        return outs

"""PyTorch reference definitions of EDSR, RCAN and RDN, re-typed from the official code (test-only).

Sources: sanghyun-son/EDSR-PyTorch ``src/model/common.py``, ``edsr.py``, ``rcan.py``, ``rdn.py``
(RCAN = yulunzhang/RCAN); the ``no_upsampling`` / ``mean_shift`` switches are from LIIF's copies
(yinboc/liif ``models/edsr.py``, ``models/rdn.py``). The classes take the official ``args``
namespace; ``make_edsr`` / ``make_rcan`` / ``make_rdn`` build one from keywords.

Deviations from the official files, all for testing: ``RDNconfig`` may also be a (D, C, G) tuple
(small configs keep CPU tests fast); the official ``load_state_dict`` overrides (which skip
mismatching tails) and pretrained-URL tables are left out; ``args.mean_shift`` (default True)
reproduces LIIF's commented-out mean shift. Everything else — layer order, names, initialisation
(PyTorch defaults), ``res_scale`` handling — is as official.
"""
import math
from argparse import Namespace

import torch
import torch.nn as nn


# ---- common.py -------------------------------------------------------------------------------
def default_conv(in_channels, out_channels, kernel_size, bias=True):
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=(kernel_size // 2), bias=bias)


class MeanShift(nn.Conv2d):
    def __init__(self, rgb_range, rgb_mean=(0.4488, 0.4371, 0.4040), rgb_std=(1.0, 1.0, 1.0), sign=-1):
        super().__init__(3, 3, kernel_size=1)
        std = torch.Tensor(rgb_std)
        self.weight.data = torch.eye(3).view(3, 3, 1, 1) / std.view(3, 1, 1, 1)
        self.bias.data = sign * rgb_range * torch.Tensor(rgb_mean) / std
        for p in self.parameters():
            p.requires_grad = False


class ResBlock(nn.Module):
    def __init__(self, conv, n_feats, kernel_size, bias=True, bn=False, act=nn.ReLU(True), res_scale=1):
        super().__init__()
        m = []
        for i in range(2):
            m.append(conv(n_feats, n_feats, kernel_size, bias=bias))
            if bn:
                m.append(nn.BatchNorm2d(n_feats))
            if i == 0:
                m.append(act)
        self.body = nn.Sequential(*m)
        self.res_scale = res_scale

    def forward(self, x):
        res = self.body(x).mul(self.res_scale)
        res += x
        return res


class Upsampler(nn.Sequential):
    def __init__(self, conv, scale, n_feats, bn=False, act=False, bias=True):
        m = []
        if (scale & (scale - 1)) == 0:  # Is scale = 2^n?
            for _ in range(int(math.log(scale, 2))):
                m.append(conv(n_feats, 4 * n_feats, 3, bias))
                m.append(nn.PixelShuffle(2))
                if bn:
                    m.append(nn.BatchNorm2d(n_feats))
                if act == 'relu':
                    m.append(nn.ReLU(True))
                elif act == 'prelu':
                    m.append(nn.PReLU(n_feats))
        elif scale == 3:
            m.append(conv(n_feats, 9 * n_feats, 3, bias))
            m.append(nn.PixelShuffle(3))
            if bn:
                m.append(nn.BatchNorm2d(n_feats))
            if act == 'relu':
                m.append(nn.ReLU(True))
            elif act == 'prelu':
                m.append(nn.PReLU(n_feats))
        else:
            raise NotImplementedError
        super().__init__(*m)


# ---- edsr.py ---------------------------------------------------------------------------------
class EDSR(nn.Module):
    def __init__(self, args, conv=default_conv):
        super().__init__()
        self.args = args
        n_resblocks = args.n_resblocks
        n_feats = args.n_feats
        kernel_size = 3
        scale = args.scale[0]
        act = nn.ReLU(True)
        self.sub_mean = MeanShift(args.rgb_range)
        self.add_mean = MeanShift(args.rgb_range, sign=1)
        m_head = [conv(args.n_colors, n_feats, kernel_size)]
        m_body = [ResBlock(conv, n_feats, kernel_size, act=act, res_scale=args.res_scale)
                  for _ in range(n_resblocks)]
        m_body.append(conv(n_feats, n_feats, kernel_size))
        self.head = nn.Sequential(*m_head)
        self.body = nn.Sequential(*m_body)
        if getattr(args, 'no_upsampling', False):
            self.out_dim = n_feats
        else:
            self.out_dim = args.n_colors
            m_tail = [Upsampler(conv, scale, n_feats, act=False), conv(n_feats, args.n_colors, kernel_size)]
            self.tail = nn.Sequential(*m_tail)

    def forward(self, x):
        shift = getattr(self.args, 'mean_shift', True)
        if shift:
            x = self.sub_mean(x)
        x = self.head(x)
        res = self.body(x)
        res += x
        if getattr(self.args, 'no_upsampling', False):
            return res
        x = self.tail(res)
        if shift:
            x = self.add_mean(x)
        return x


# ---- rcan.py ---------------------------------------------------------------------------------
class CALayer(nn.Module):
    def __init__(self, channel, reduction=16):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv_du = nn.Sequential(
            nn.Conv2d(channel, channel // reduction, 1, padding=0, bias=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(channel // reduction, channel, 1, padding=0, bias=True),
            nn.Sigmoid())

    def forward(self, x):
        y = self.avg_pool(x)
        y = self.conv_du(y)
        return x * y


class RCAB(nn.Module):
    def __init__(self, conv, n_feat, kernel_size, reduction, bias=True, bn=False, act=nn.ReLU(True), res_scale=1):
        super().__init__()
        modules_body = []
        for i in range(2):
            modules_body.append(conv(n_feat, n_feat, kernel_size, bias=bias))
            if bn:
                modules_body.append(nn.BatchNorm2d(n_feat))
            if i == 0:
                modules_body.append(act)
        modules_body.append(CALayer(n_feat, reduction))
        self.body = nn.Sequential(*modules_body)
        self.res_scale = res_scale

    def forward(self, x):
        res = self.body(x)
        # res = self.body(x).mul(self.res_scale)   (commented out in the official code)
        res += x
        return res


class ResidualGroup(nn.Module):
    def __init__(self, conv, n_feat, kernel_size, reduction, act, res_scale, n_resblocks):
        super().__init__()
        modules_body = [RCAB(conv, n_feat, kernel_size, reduction, bias=True, bn=False, act=nn.ReLU(True),
                             res_scale=1) for _ in range(n_resblocks)]
        modules_body.append(conv(n_feat, n_feat, kernel_size))
        self.body = nn.Sequential(*modules_body)

    def forward(self, x):
        res = self.body(x)
        res += x
        return res


class RCAN(nn.Module):
    def __init__(self, args, conv=default_conv):
        super().__init__()
        n_resgroups = args.n_resgroups
        n_resblocks = args.n_resblocks
        n_feats = args.n_feats
        kernel_size = 3
        reduction = args.reduction
        scale = args.scale[0]
        act = nn.ReLU(True)
        self.sub_mean = MeanShift(args.rgb_range)  # RGB mean for DIV2K
        modules_head = [conv(args.n_colors, n_feats, kernel_size)]
        modules_body = [ResidualGroup(conv, n_feats, kernel_size, reduction, act=act, res_scale=args.res_scale,
                                      n_resblocks=n_resblocks) for _ in range(n_resgroups)]
        modules_body.append(conv(n_feats, n_feats, kernel_size))
        modules_tail = [Upsampler(conv, scale, n_feats, act=False), conv(n_feats, args.n_colors, kernel_size)]
        self.add_mean = MeanShift(args.rgb_range, sign=1)
        self.head = nn.Sequential(*modules_head)
        self.body = nn.Sequential(*modules_body)
        self.tail = nn.Sequential(*modules_tail)

    def forward(self, x):
        x = self.sub_mean(x)
        x = self.head(x)
        res = self.body(x)
        res += x
        x = self.tail(res)
        x = self.add_mean(x)
        return x


# ---- rdn.py ----------------------------------------------------------------------------------
class RDB_Conv(nn.Module):
    def __init__(self, inChannels, growRate, kSize=3):
        super().__init__()
        Cin = inChannels
        G = growRate
        self.conv = nn.Sequential(*[nn.Conv2d(Cin, G, kSize, padding=(kSize - 1) // 2, stride=1), nn.ReLU()])

    def forward(self, x):
        out = self.conv(x)
        return torch.cat((x, out), 1)


class RDB(nn.Module):
    def __init__(self, growRate0, growRate, nConvLayers, kSize=3):
        super().__init__()
        G0 = growRate0
        G = growRate
        C = nConvLayers
        convs = []
        for c in range(C):
            convs.append(RDB_Conv(G0 + c * G, G))
        self.convs = nn.Sequential(*convs)
        self.LFF = nn.Conv2d(G0 + C * G, G0, 1, padding=0, stride=1)  # Local Feature Fusion

    def forward(self, x):
        return self.LFF(self.convs(x)) + x


class RDN(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.args = args
        r = args.scale[0]
        G0 = args.G0
        kSize = args.RDNkSize
        # number of RDB blocks, conv layers, out channels
        config = args.RDNconfig
        self.D, C, G = config if isinstance(config, tuple) else {'A': (20, 6, 32), 'B': (16, 8, 64)}[config]
        self.SFENet1 = nn.Conv2d(args.n_colors, G0, kSize, padding=(kSize - 1) // 2, stride=1)
        self.SFENet2 = nn.Conv2d(G0, G0, kSize, padding=(kSize - 1) // 2, stride=1)
        self.RDBs = nn.ModuleList()
        for i in range(self.D):
            self.RDBs.append(RDB(growRate0=G0, growRate=G, nConvLayers=C))
        self.GFF = nn.Sequential(*[nn.Conv2d(self.D * G0, G0, 1, padding=0, stride=1),
                                   nn.Conv2d(G0, G0, kSize, padding=(kSize - 1) // 2, stride=1)])
        if getattr(args, 'no_upsampling', False):
            self.out_dim = G0
            return
        self.out_dim = args.n_colors
        if r == 2 or r == 3:
            self.UPNet = nn.Sequential(*[
                nn.Conv2d(G0, G * r * r, kSize, padding=(kSize - 1) // 2, stride=1),
                nn.PixelShuffle(r),
                nn.Conv2d(G, args.n_colors, kSize, padding=(kSize - 1) // 2, stride=1)])
        elif r == 4:
            self.UPNet = nn.Sequential(*[
                nn.Conv2d(G0, G * 4, kSize, padding=(kSize - 1) // 2, stride=1),
                nn.PixelShuffle(2),
                nn.Conv2d(G, G * 4, kSize, padding=(kSize - 1) // 2, stride=1),
                nn.PixelShuffle(2),
                nn.Conv2d(G, args.n_colors, kSize, padding=(kSize - 1) // 2, stride=1)])
        else:
            raise ValueError("scale must be 2 or 3 or 4.")

    def forward(self, x):
        f__1 = self.SFENet1(x)
        x = self.SFENet2(f__1)
        RDBs_out = []
        for i in range(self.D):
            x = self.RDBs[i](x)
            RDBs_out.append(x)
        x = self.GFF(torch.cat(RDBs_out, 1))
        x += f__1
        if getattr(self.args, 'no_upsampling', False):
            return x
        return self.UPNet(x)


# ---- keyword builders (option defaults as in EDSR-PyTorch option.py / the papers) -------------
def make_edsr(scale=4, n_resblocks=32, n_feats=256, res_scale=0.1, rgb_range=255, n_colors=3,
              no_upsampling=False, mean_shift=True):
    return EDSR(Namespace(scale=[scale], n_resblocks=n_resblocks, n_feats=n_feats, res_scale=res_scale,
                          rgb_range=rgb_range, n_colors=n_colors, no_upsampling=no_upsampling,
                          mean_shift=mean_shift))


def make_edsr_baseline(scale=4, **kwargs):
    return make_edsr(scale, **{"n_resblocks": 16, "n_feats": 64, "res_scale": 1, **kwargs})


def make_rcan(scale=4, n_resgroups=10, n_resblocks=20, n_feats=64, reduction=16, rgb_range=255, n_colors=3,
              res_scale=1):
    return RCAN(Namespace(scale=[scale], n_resgroups=n_resgroups, n_resblocks=n_resblocks, n_feats=n_feats,
                          reduction=reduction, rgb_range=rgb_range, n_colors=n_colors, res_scale=res_scale))


def make_rdn(scale=4, G0=64, RDNkSize=3, RDNconfig='B', n_colors=3, no_upsampling=False):
    return RDN(Namespace(scale=[scale], G0=G0, RDNkSize=RDNkSize, RDNconfig=RDNconfig, n_colors=n_colors,
                         no_upsampling=no_upsampling))

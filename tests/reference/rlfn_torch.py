"""PyTorch reference: the official bytedance/RLFN model code (``model/block.py``, ``rlfn.py``,
``rlfn_s.py``, ``rlfn_ntire.py``), re-typed for parity tests. Test-only (needs torch).

Kept structurally identical to the official files (same layer names, same forward, in-place
LeakyReLU, unused ``ESA.relu``), only folded into one module; RLFN / RLFN_S / RLFN_Prune are the
three official classes.
"""
import torch.nn as nn
import torch.nn.functional as F


def conv_layer(in_channels, out_channels, kernel_size, bias=True):
    kernel_size = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    padding = (int((kernel_size[0] - 1) / 2), int((kernel_size[1] - 1) / 2))
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=bias)


def pixelshuffle_block(in_channels, out_channels, upscale_factor=2, kernel_size=3):
    conv = conv_layer(in_channels, out_channels * (upscale_factor ** 2), kernel_size)
    return nn.Sequential(conv, nn.PixelShuffle(upscale_factor))


class ESA(nn.Module):
    def __init__(self, esa_channels, n_feats, conv):
        super().__init__()
        f = esa_channels
        self.conv1 = conv(n_feats, f, kernel_size=1)
        self.conv_f = conv(f, f, kernel_size=1)
        self.conv2 = conv(f, f, kernel_size=3, stride=2, padding=0)
        self.conv3 = conv(f, f, kernel_size=3, padding=1)
        self.conv4 = conv(f, n_feats, kernel_size=1)
        self.sigmoid = nn.Sigmoid()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        c1_ = (self.conv1(x))
        c1 = self.conv2(c1_)
        v_max = F.max_pool2d(c1, kernel_size=7, stride=3)
        c3 = self.conv3(v_max)
        c3 = F.interpolate(c3, (x.size(2), x.size(3)), mode='bilinear', align_corners=False)
        cf = self.conv_f(c1_)
        c4 = self.conv4(c3 + cf)
        m = self.sigmoid(c4)
        return x * m


class RLFB(nn.Module):
    def __init__(self, in_channels, mid_channels=None, out_channels=None, esa_channels=16):
        super().__init__()
        if mid_channels is None:
            mid_channels = in_channels
        if out_channels is None:
            out_channels = in_channels
        self.c1_r = conv_layer(in_channels, mid_channels, 3)
        self.c2_r = conv_layer(mid_channels, mid_channels, 3)
        self.c3_r = conv_layer(mid_channels, in_channels, 3)
        self.c5 = conv_layer(in_channels, out_channels, 1)
        self.esa = ESA(esa_channels, out_channels, nn.Conv2d)
        self.act = nn.LeakyReLU(0.05, True)

    def forward(self, x):
        out = (self.c1_r(x))
        out = self.act(out)
        out = (self.c2_r(out))
        out = self.act(out)
        out = (self.c3_r(out))
        out = self.act(out)
        out = out + x
        out = self.esa(self.c5(out))
        return out


class RLFN(nn.Module):
    def __init__(self, in_channels=3, out_channels=3, feature_channels=52, upscale=4):
        super().__init__()
        self.conv_1 = conv_layer(in_channels, feature_channels, kernel_size=3)
        self.block_1 = RLFB(feature_channels)
        self.block_2 = RLFB(feature_channels)
        self.block_3 = RLFB(feature_channels)
        self.block_4 = RLFB(feature_channels)
        self.block_5 = RLFB(feature_channels)
        self.block_6 = RLFB(feature_channels)
        self.conv_2 = conv_layer(feature_channels, feature_channels, kernel_size=3)
        self.upsampler = pixelshuffle_block(feature_channels, out_channels, upscale_factor=upscale)

    def forward(self, x):
        out_feature = self.conv_1(x)
        out_b1 = self.block_1(out_feature)
        out_b2 = self.block_2(out_b1)
        out_b3 = self.block_3(out_b2)
        out_b4 = self.block_4(out_b3)
        out_b5 = self.block_5(out_b4)
        out_b6 = self.block_6(out_b5)
        out_low_resolution = self.conv_2(out_b6) + out_feature
        output = self.upsampler(out_low_resolution)
        return output


class RLFN_S(RLFN):
    """Official ``rlfn_s.py``: the same network as RLFN with 48 feature channels."""

    def __init__(self, in_channels=3, out_channels=3, feature_channels=48, upscale=4):
        super().__init__(in_channels, out_channels, feature_channels, upscale)


class RLFN_Prune(nn.Module):
    def __init__(self, in_channels=3, out_channels=3, feature_channels=46, mid_channels=48, upscale=4):
        super().__init__()
        self.conv_1 = conv_layer(in_channels, feature_channels, kernel_size=3)
        self.block_1 = RLFB(feature_channels, mid_channels)
        self.block_2 = RLFB(feature_channels, mid_channels)
        self.block_3 = RLFB(feature_channels, mid_channels)
        self.block_4 = RLFB(feature_channels, mid_channels)
        self.conv_2 = conv_layer(feature_channels, feature_channels, kernel_size=3)
        self.upsampler = pixelshuffle_block(feature_channels, out_channels, upscale_factor=upscale)

    def forward(self, x):
        out_feature = self.conv_1(x)
        out_b1 = self.block_1(out_feature)
        out_b2 = self.block_2(out_b1)
        out_b3 = self.block_3(out_b2)
        out_b4 = self.block_4(out_b3)
        out_low_resolution = self.conv_2(out_b4) + out_feature
        output = self.upsampler(out_low_resolution)
        return output


# Registered suite name -> official class.
OFFICIAL = {"rlfn": RLFN, "rlfn_s": RLFN_S, "rlfn_ntire": RLFN_Prune}


def build(name, scale):
    """The official model for suite name ``name`` at ``scale``, in eval mode."""
    return OFFICIAL[name](upscale=scale).eval()

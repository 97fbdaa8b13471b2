"""PyTorch reference: the official IGNN (sczhou/IGNN ``models/IGNN.py``, ``models/submodules.py``,
``models/graph_agg.py``, ``models/VGG19.py``, ``models/lib/ops.py``, ``utils/network_utils.py``,
``utils/imresize.py``, ``config.py``), re-typed for parity tests. Test-only (needs torch).

Kept as the official code, global ``cfg`` and its side effects included (``index_neighbours`` turns
``cfg.NETWORK.WITH_WINDOW`` off for small inputs: call ``reset_cfg()`` between models). Replaced,
because they need CUDA or packages we do not have:
- ``pyinn.im2col`` / ``col2im`` -> ``F.unfold`` / ``F.fold`` (same layout: (b, c, kh, kw, oh, ow));
- ``matmul_cuda.matmul1`` -> its definition (``matmul1_kernel.cu``): out[b, m, o] =
  sum_e y[b, m, e] * x[b, I[b, m, o], e], written with ``gather``;
- ``torchvision.models.vgg19(pretrained=True).features[:4]`` -> the same four layers, random weights.
``IGNN`` reads its sizes from ``cfg`` as the official one; ``make_son`` is the data loader's son.
"""
import math
from types import SimpleNamespace

import torch
import torch.nn as nn
import torch.nn.functional as F

cfg = SimpleNamespace(CONST=SimpleNamespace(), NETWORK=SimpleNamespace(), DATA=SimpleNamespace())


def reset_cfg(scale=4, n_resblocks=32, n_feats=256, window=30, with_window=True):
    cfg.CONST.SCALE = scale
    cfg.DATA.RANGE = 255
    n = cfg.NETWORK
    n.LEAKY_VALUE, n.RES_SCALE, n.N_RESBLOCK, n.N_FEATURE = 0.0, 0.1, n_resblocks, n_feats
    n.N_REIGHBOR, n.WITH_WINDOW, n.WINDOW_SIZE = 5, with_window, window
    n.WITH_ADAIN_NROM, n.WITH_DIFF, n.WITH_SCORE = True, True, False


reset_cfg()


# ------------------------------------------------------------------------------------ lib/ops.py
def indexed_matmul_1_efficient(x, y, I):
    b, m, o = I.shape
    e = x.shape[2]
    xg = x.gather(1, I.reshape(b, m * o, 1).expand(b, m * o, e)).view(b, m, o, e)
    return (xg * y.unsqueeze(2)).sum(-1)


def euclidean_distance(x, y):
    out = -2 * torch.matmul(x, y)
    out += (x ** 2).sum(dim=-1, keepdim=True)
    out += (y ** 2).sum(dim=-2, keepdim=True)
    return out


def calc_padding(x_shape, patchsize, stride, padding=None):
    if padding is None:
        xdim = x_shape
        padvert = -(xdim[0] - patchsize) % stride
        padhorz = -(xdim[1] - patchsize) % stride
        padtop = int(math.floor(padvert / 2.0))
        padbottom = int(math.ceil(padvert / 2.0))
        padleft = int(math.floor(padhorz / 2.0))
        padright = int(math.ceil(padhorz / 2.0))
    else:
        padtop = padbottom = padleft = padright = padding
    return padtop, padbottom, padleft, padright


def im2col(x, patchsize, stride):
    b, c, h, w = x.shape
    cols = F.unfold(x, patchsize, stride=stride)
    return cols.view(b, c, patchsize, patchsize, (h - patchsize) // stride + 1, (w - patchsize) // stride + 1)


def col2im(x_col, patchsize, stride):
    b, c, kh, kw, oh, ow = x_col.shape
    size = ((oh - 1) * stride + kh, (ow - 1) * stride + kw)
    return F.fold(x_col.reshape(b, c * kh * kw, oh * ow), size, patchsize, stride=stride)


def im2patch(x, patchsize, stride, padding=None, returnpadding=False):
    padtop, padbottom, padleft, padright = calc_padding(x.shape[2:], patchsize, stride, padding)
    xpad = F.pad(x, pad=(padleft, padright, padtop, padbottom))
    x2col = im2col(xpad, patchsize, stride)
    if returnpadding:
        return x2col, (padtop, padbottom, padleft, padright)
    return x2col


def patch2im(x_patch, patchsize, stride, padding):
    padtop, padbottom, padleft, padright = padding
    counts = col2im(torch.ones_like(x_patch), patchsize, stride)
    x = col2im(x_patch.contiguous(), patchsize, stride)
    x = x / counts
    x = x[:, :, padtop:x.shape[2] - padbottom, padleft:x.shape[3] - padright]
    return x


# ----------------------------------------------------------------------------- network_utils.py
def adaptive_instance_normalization(center_feat, knn_feat, eps=1e-5):
    b, m, c, p = center_feat.size()
    _, _, _, sp, k = knn_feat.size()
    center_var = center_feat.var(dim=3) + eps
    center_std = center_var.sqrt().view(b, m, c, 1, 1)
    center_mean = center_feat.mean(dim=3).view(b, m, c, 1, 1)
    knn_var = knn_feat.var(dim=3) + eps
    knn_std = knn_var.sqrt().view(b, m, c, 1, k)
    knn_mean = knn_feat.mean(dim=3).view(b, m, c, 1, k)
    size = knn_feat.size()
    normalized_feat = (knn_feat - knn_mean.expand(size)) / knn_std.expand(size)
    return normalized_feat * center_std.expand(size) + center_mean.expand(size)


# ---------------------------------------------------------------------------------- imresize.py
def cubic(x):
    absx = torch.abs(x)
    absx2 = absx ** 2
    absx3 = absx ** 3
    return (1.5 * absx3 - 2.5 * absx2 + 1) * ((absx <= 1).type_as(absx)) + \
        (-0.5 * absx3 + 2.5 * absx2 - 4 * absx + 2) * (((absx > 1) * (absx <= 2)).type_as(absx))


def calculate_weights_indices(in_length, out_length, scale, kernel, kernel_width, antialiasing):
    if (scale < 1) and antialiasing:
        kernel_width = kernel_width / scale
    x = torch.linspace(1, out_length, out_length)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - kernel_width / 2)
    P = math.ceil(kernel_width) + 2
    indices = left.view(out_length, 1).expand(out_length, P) + torch.linspace(0, P - 1, P).view(1, P).expand(
        out_length, P)
    distance_to_center = u.view(out_length, 1).expand(out_length, P) - indices
    if (scale < 1) and antialiasing:
        weights = scale * cubic(distance_to_center * scale)
    else:
        weights = cubic(distance_to_center)
    weights_sum = torch.sum(weights, 1).view(out_length, 1)
    weights = weights / weights_sum.expand(out_length, P)
    weights_zero_tmp = torch.sum((weights == 0), 0)
    if not math.isclose(weights_zero_tmp[0], 0, rel_tol=1e-6):
        indices = indices.narrow(1, 1, P - 2)
        weights = weights.narrow(1, 1, P - 2)
    if not math.isclose(weights_zero_tmp[-1], 0, rel_tol=1e-6):
        indices = indices.narrow(1, 0, P - 2)
        weights = weights.narrow(1, 0, P - 2)
    weights = weights.contiguous()
    indices = indices.contiguous()
    sym_len_s = -indices.min() + 1
    sym_len_e = indices.max() - in_length
    indices = indices + sym_len_s - 1
    return weights, indices, int(sym_len_s), int(sym_len_e)


def imresize(img, scale, antialiasing=True):
    in_C, in_H, in_W = img.size()
    _, out_H, out_W = in_C, math.ceil(in_H * scale), math.ceil(in_W * scale)
    kernel_width = 4
    kernel = 'cubic'
    weights_H, indices_H, sym_len_Hs, sym_len_He = calculate_weights_indices(
        in_H, out_H, scale, kernel, kernel_width, antialiasing)
    weights_W, indices_W, sym_len_Ws, sym_len_We = calculate_weights_indices(
        in_W, out_W, scale, kernel, kernel_width, antialiasing)
    img_aug = torch.FloatTensor(in_C, in_H + sym_len_Hs + sym_len_He, in_W)
    img_aug.narrow(1, sym_len_Hs, in_H).copy_(img)
    sym_patch = img[:, :sym_len_Hs, :]
    inv_idx = torch.arange(sym_patch.size(1) - 1, -1, -1).long()
    img_aug.narrow(1, 0, sym_len_Hs).copy_(sym_patch.index_select(1, inv_idx))
    sym_patch = img[:, -sym_len_He:, :]
    inv_idx = torch.arange(sym_patch.size(1) - 1, -1, -1).long()
    img_aug.narrow(1, sym_len_Hs + in_H, sym_len_He).copy_(sym_patch.index_select(1, inv_idx))
    out_1 = torch.FloatTensor(in_C, out_H, in_W)
    kernel_width = weights_H.size(1)
    for i in range(out_H):
        idx = int(indices_H[i][0])
        for c in range(in_C):
            out_1[c, i, :] = img_aug[c, idx:idx + kernel_width, :].transpose(0, 1).mv(weights_H[i])
    out_1_aug = torch.FloatTensor(in_C, out_H, in_W + sym_len_Ws + sym_len_We)
    out_1_aug.narrow(2, sym_len_Ws, in_W).copy_(out_1)
    sym_patch = out_1[:, :, :sym_len_Ws]
    inv_idx = torch.arange(sym_patch.size(2) - 1, -1, -1).long()
    out_1_aug.narrow(2, 0, sym_len_Ws).copy_(sym_patch.index_select(2, inv_idx))
    sym_patch = out_1[:, :, -sym_len_We:]
    inv_idx = torch.arange(sym_patch.size(2) - 1, -1, -1).long()
    out_1_aug.narrow(2, sym_len_Ws + in_W, sym_len_We).copy_(sym_patch.index_select(2, inv_idx))
    out_2 = torch.FloatTensor(in_C, out_H, out_W)
    kernel_width = weights_W.size(1)
    for i in range(out_W):
        idx = int(indices_W[i][0])
        for c in range(in_C):
            out_2[c, :, i] = out_1_aug[c, :, idx:idx + kernel_width].mv(weights_W[i])
    return out_2


def make_son(img_lr):
    """utils/data_loaders.py: the son of a (C, H, W) 0-255 LR tensor."""
    s = 2 if cfg.CONST.SCALE == 4 else cfg.CONST.SCALE
    return (imresize(img_lr / 255.0, 1.0 / s) * 255).clamp(0, 255)


# -------------------------------------------------------------------------------- graph_agg.py
def compute_distances(xe, ye, I, train=True):
    b, n, e = xe.shape
    m = ye.shape[1]
    if train or not cfg.NETWORK.WITH_WINDOW:
        D = euclidean_distance(ye, xe.permute(0, 2, 1))
        if cfg.NETWORK.WITH_WINDOW:
            D = D.gather(dim=2, index=I) + 1e-5
    else:
        o = I.shape[2]
        If = I.view(b, m * o, 1).expand(b, m * o, e)
        ye = ye.unsqueeze(3)
        D = -2 * indexed_matmul_1_efficient(xe, ye.squeeze(3), I).unsqueeze(3)
        xe_sqs = (xe ** 2).sum(dim=-1, keepdim=True)
        xe_sqs_ind = xe_sqs.gather(dim=1, index=If[:, :, 0:1]).view(b, m, o, 1)
        D += xe_sqs_ind
        D += (ye ** 2).sum(dim=-2, keepdim=True) + 1e-5
        D = D.squeeze(3)
    return D


def hard_knn(D, k, I):
    score, idx = torch.topk(D, k, dim=2, largest=False, sorted=True)
    if cfg.NETWORK.WITH_WINDOW:
        idx = I.gather(dim=2, index=idx)
    return score, idx


class GraphConstruct(nn.Module):
    def __init__(self, scale, indexer, k, patchsize, stride, padding=None):
        super().__init__()
        self.scale, self.patchsize, self.stride, self.indexer, self.k, self.padding = \
            scale, patchsize, stride, indexer, k, padding

    def graph_k(self, xe, ye, I):
        n = xe.shape[1]
        b, m, e = ye.shape
        k = self.k
        D = compute_distances(xe, ye, I, train=self.training)
        score_k, idx_k = hard_knn(D, k, I)
        xe = xe.permute(0, 2, 1).contiguous()
        xe_e = xe.view(b, 1, e, n).expand(b, m, e, n)
        idx_k_e = idx_k.view(b, m, 1, k).expand(b, m, e, k)
        if cfg.NETWORK.WITH_DIFF:
            ye_e = ye.view(b, m, e, 1).expand(b, m, e, k)
            diff_patch = ye_e - torch.gather(xe_e, dim=3, index=idx_k_e)
        else:
            diff_patch = None
        score_k = (-score_k / 10.).exp() if cfg.NETWORK.WITH_SCORE else None
        return score_k, idx_k, diff_patch

    def forward(self, xe, ye):
        H, W = ye.shape[2:]
        xe_patch = im2patch(xe, self.patchsize, self.stride, self.padding)
        ye_patch, padding = im2patch(ye, self.patchsize, self.stride, self.padding, returnpadding=True)
        I = self.indexer(xe_patch, ye_patch)
        if not self.training:
            index_neighbours_cache.clear()
        _, _, _, _, n1, n2 = xe_patch.shape
        b, ce, e1, e2, m1, m2 = ye_patch.shape
        k = self.k
        n = n1 * n2
        m = m1 * m2
        e = ce * e1 * e2
        xe_patch = xe_patch.permute(0, 4, 5, 1, 2, 3).contiguous().view(b, n, e)
        ye_patch = ye_patch.permute(0, 4, 5, 1, 2, 3).contiguous().view(b, m, e)
        score_k, idx_k, diff_patch = self.graph_k(xe_patch, ye_patch, I)
        if cfg.NETWORK.WITH_DIFF:
            diff_patch = abs(diff_patch.view(b, m, ce, e1 * e2, k))
            diff_patch = torch.sum(diff_patch, dim=3, keepdim=True)
            diff_patch = diff_patch.expand(b, m, ce, e1 * self.scale * e2 * self.scale, k)
            diff_patch = diff_patch.permute(0, 4, 2, 3, 1).contiguous()
            diff_patch = diff_patch.view(b, k * ce, e1 * self.scale, e2 * self.scale, m1, m2)
            padding_sr = [p * self.scale for p in padding]
            diff_patch = patch2im(diff_patch, self.patchsize * self.scale, self.stride * self.scale, padding_sr)
            diff_patch = diff_patch.contiguous().view(b, k * ce, H * self.scale, W * self.scale)
        return score_k, idx_k, diff_patch


class GraphAggregation(nn.Module):
    def __init__(self, scale, k, patchsize, stride, padding=None):
        super().__init__()
        self.scale, self.patchsize, self.stride, self.k, self.padding = scale, patchsize, stride, k, padding

    def aggregation(self, yd, idx_k):
        m = idx_k.shape[1]
        b, n, f = yd.shape
        k = self.k
        yd = yd.permute(0, 2, 1).contiguous()
        yd_e = yd.view(b, 1, f, n).expand(b, m, f, n)
        idx_k_e = idx_k.view(b, m, 1, k).expand(b, m, f, k)
        return torch.gather(yd_e, dim=3, index=idx_k_e)

    def forward(self, y, yd, idx_k):
        y_patch, padding = im2patch(y, self.patchsize, self.stride, self.padding, returnpadding=True)
        yd_patch = im2patch(yd, self.patchsize, self.stride, self.padding)
        _, _, H, W = y.shape
        _, _, _, _, m1, m2 = y_patch.shape
        b, c, p1, p2, n1, n2 = yd_patch.shape
        m = m1 * m2
        n = n1 * n2
        f = c * p1 * p2
        y_patch = y_patch.permute(0, 4, 5, 1, 2, 3).contiguous().view(b, m, f // self.scale ** 2)
        yd_patch = yd_patch.permute(0, 4, 5, 1, 2, 3).contiguous().view(b, n, f)
        z_patch = self.aggregation(yd_patch, idx_k)
        if cfg.NETWORK.WITH_ADAIN_NROM:
            reduce_scale = self.scale ** 2
            y_patch_norm = y_patch.view(b, m, c // reduce_scale, p1 * p2)
            z_patch_norm = z_patch.view(b, m, c // reduce_scale, reduce_scale * p1 * p2, self.k)
            z_patch = adaptive_instance_normalization(y_patch_norm, z_patch_norm).view(*z_patch.size())
        z_patch = z_patch.permute(0, 3, 2, 1).contiguous()
        z_patch_sr = z_patch.view(b, self.k, c // self.scale ** 2, self.scale, self.scale, p1, p2, m1, m2).permute(
            0, 1, 2, 5, 3, 6, 4, 7, 8).contiguous()
        z_patch_sr = z_patch_sr.view(b, self.k * (c // self.scale ** 2), p1 * self.scale, p2 * self.scale, m1, m2)
        padding_sr = [p * self.scale for p in padding]
        z_sr = patch2im(z_patch_sr, self.patchsize * self.scale, self.stride * self.scale, padding_sr)
        return z_sr.contiguous().view(b, self.k * (c // self.scale ** 2), H * self.scale, W * self.scale)


index_neighbours_cache = {}


def index_neighbours(xe_patch, ye_patch, window_size, scale):
    if cfg.NETWORK.WITH_WINDOW is False:
        return None
    b, _, _, _, n1, n2 = xe_patch.shape
    s = window_size
    if s >= n1 and s >= n2:
        cfg.NETWORK.WITH_WINDOW = False
        return None
    s = min(min(s, n1), n2)
    o = s ** 2
    b, _, _, _, m1, m2 = ye_patch.shape
    key = "{}_{}_{}_{}_{}".format(n1, n2, m1, m2, s)
    if key not in index_neighbours_cache:
        I = torch.empty(1, m1 * m2, o, dtype=torch.int64)
        ih = torch.tensor(range(s), dtype=torch.int64).view(1, 1, s, 1)
        iw = torch.tensor(range(s), dtype=torch.int64).view(1, 1, 1, s) * n2
        i_s = (torch.tensor(range(m1), dtype=torch.int64).view(m1, 1, 1, 1) // 2.0).long()
        j_s = (torch.tensor(range(m2), dtype=torch.int64).view(1, m2, 1, 1) // 2.0).long()
        ch = (i_s - s // scale).clamp(0, n1 - s)
        cw = (j_s - s // scale).clamp(0, n2 - s)
        cidx = ch * n2 + cw
        mI = cidx + ih + iw
        mI = mI.view(m1 * m2, -1)
        I[0, :, :] = mI
        index_neighbours_cache[key] = I
    I = index_neighbours_cache[key]
    return I.repeat(b, 1, 1)


# ------------------------------------------------------------------------------- submodules.py
def act():
    return nn.LeakyReLU(cfg.NETWORK.LEAKY_VALUE, inplace=True)


def conv(in_channels, out_channels, kernel_size=3, act_=True, stride=1, groups=1, bias=True):
    m = [nn.Conv2d(in_channels, out_channels, kernel_size=kernel_size, stride=stride,
                   padding=(kernel_size - 1) // 2, groups=groups, bias=bias)]
    if act_:
        m.append(act())
    return nn.Sequential(*m)


class ResBlock(nn.Module):
    def __init__(self, n_feats, kernel_size=3, res_scale=1, bias=True):
        super().__init__()
        m = []
        for i in range(2):
            m.append(nn.Conv2d(n_feats, n_feats, kernel_size, padding=(kernel_size - 1) // 2, bias=bias))
            if i == 0:
                m.append(act())
        self.body = nn.Sequential(*m)
        self.res_scale = res_scale

    def forward(self, x):
        res = self.body(x).mul(self.res_scale)
        res += x
        return res


class MeanShift(nn.Conv2d):
    def __init__(self, rgb_range=1., rgb_mean=(0.4488, 0.4371, 0.4040), rgb_std=(1., 1., 1.), sign=-1):
        super().__init__(3, 3, kernel_size=1)
        std = torch.Tensor(rgb_std)
        self.weight.data = torch.eye(3).view(3, 3, 1, 1) / std.view(3, 1, 1, 1)
        self.bias.data = sign * rgb_range * torch.Tensor(rgb_mean) / std
        for p in self.parameters():
            p.requires_grad = False


def upsampler(in_channels, kernel_size=3, scale=2, act_=False, bias=True):
    m = []
    if (scale & (scale - 1)) == 0:
        for _ in range(int(math.log(scale, 2))):
            m.append(nn.Conv2d(in_channels, 4 * in_channels, kernel_size, padding=1, bias=bias))
            m.append(nn.PixelShuffle(2))
    elif scale == 3:
        m.append(nn.Conv2d(in_channels, 9 * in_channels, kernel_size, padding=1, bias=bias))
        m.append(nn.PixelShuffle(3))
    return nn.Sequential(*m)


class PixelShuffle_Down(nn.Module):
    def __init__(self, scale=2):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        b, c, h, w = x.size()
        x = x[:, :, :int(h - h % self.scale), :int(w - w % self.scale)]
        out_c = c * (self.scale ** 2)
        out_h = h // self.scale
        out_w = w // self.scale
        out = x.contiguous().view(b, c, out_h, self.scale, out_w, self.scale)
        return out.permute(0, 1, 3, 5, 2, 4).contiguous().view(b, out_c, out_h, out_w)


class Graph(nn.Module):
    def __init__(self, scale, k=5, patchsize=3, stride=1, window_size=20, in_channels=256, embedcnn=None):
        super().__init__()
        self.scale = scale
        self.k = k
        self.vgg = embedcnn is not None
        self.embedcnn = embedcnn
        indexer = lambda xe_patch, ye_patch: index_neighbours(xe_patch, ye_patch, window_size, scale)  # noqa: E731
        self.graph_construct = GraphConstruct(scale=scale, indexer=indexer, k=k, patchsize=patchsize, stride=stride)

    def forward(self, x, y):
        xe = self.embedcnn(x)
        ye = self.embedcnn(y)
        return self.graph_construct(xe, ye)


class GCNBlock(nn.Module):
    def __init__(self, nplanes_in, scale, k=5, patchsize=3, stride=1, diff_n=64):
        super().__init__()
        self.nplanes_in = nplanes_in
        self.scale = scale
        self.k = k
        self.pixelshuffle_down = PixelShuffle_Down(scale)
        self.graph_aggregate = GraphAggregation(scale=scale, k=k, patchsize=patchsize, stride=stride)
        self.knn_downsample = nn.Sequential(
            conv(nplanes_in, nplanes_in, kernel_size=5, stride=scale),
            conv(nplanes_in, nplanes_in, kernel_size=3),
            conv(nplanes_in, nplanes_in, kernel_size=3, act_=False))
        self.diff_downsample = nn.AvgPool2d(kernel_size=scale, stride=scale)
        self.weightnet_lr = nn.Sequential(conv(diff_n, 64, kernel_size=1, act_=False),
                                          ResBlock(64, kernel_size=1, res_scale=cfg.NETWORK.RES_SCALE),
                                          conv(64, 1, kernel_size=1, act_=False))
        self.weightnet_hr = nn.Sequential(conv(diff_n, 64, kernel_size=1, act_=False),
                                          ResBlock(64, kernel_size=1, res_scale=cfg.NETWORK.RES_SCALE),
                                          conv(64, 1, kernel_size=1, act_=False))

    def weight_edge(self, knn_hr, diff_patch):
        b, c, h_hr, w_hr = knn_hr.shape
        b, ce, _, _ = diff_patch.shape
        h_lr, w_lr = h_hr // self.scale, w_hr // self.scale
        knn_hr = knn_hr.view(b, self.k, c // self.k, h_hr, w_hr)
        diff_patch = diff_patch.view(b, self.k, ce // self.k, h_hr, w_hr)
        knn_lr, weight_lr, weight_hr = [], [], []
        for i in range(self.k):
            knn_lr.append(self.knn_downsample(knn_hr[:, i]).view(b, 1, c // self.k, h_lr, w_lr))
            diff_patch_lr = self.diff_downsample(diff_patch[:, i])
            weight_lr.append(self.weightnet_lr(diff_patch_lr))
            weight_hr.append(self.weightnet_hr(diff_patch[:, i]))
        weight_lr = torch.cat(weight_lr, dim=1).view(b, self.k, 1, h_lr, w_lr)
        weight_lr = F.softmax(weight_lr, dim=1)
        weight_hr = torch.cat(weight_hr, dim=1).view(b, self.k, 1, h_hr, w_hr)
        weight_hr = F.softmax(weight_hr, dim=1)
        knn_lr = torch.cat(knn_lr, dim=1)
        knn_lr = torch.sum(knn_lr * weight_lr, dim=1, keepdim=False)
        knn_hr = torch.sum(knn_hr * weight_hr, dim=1, keepdim=False)
        return knn_lr, knn_hr

    def forward(self, y, idx_k, diff_patch):
        yd = self.pixelshuffle_down(y)
        knn_hr = self.graph_aggregate(y, yd, idx_k)
        return self.weight_edge(knn_hr, diff_patch)


# ----------------------------------------------------------------------------------- VGG19.py
class VGG19(nn.Module):
    def __init__(self, feature_list=(3,)):
        super().__init__()
        self.feature_list = list(feature_list)
        # torchvision vgg19().features[:4]: conv1_1, relu, conv1_2, relu (random weights here)
        self.model = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(inplace=True),
                                   nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(inplace=True))
        self.sub_mean = MeanShift(1.0, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
        for p in self.parameters():
            p.requires_grad = False

    def forward(self, x):
        x = x / 255.
        x = self.sub_mean(x)
        features = []
        for i, layer in enumerate(list(self.model)):
            x = layer(x)
            if i in self.feature_list:
                features.append(x)
            if i == self.feature_list[-1]:
                return features[0] if len(self.feature_list) == 1 else features


# ------------------------------------------------------------------------------------ IGNN.py
class IGNN(nn.Module):
    def __init__(self):
        super().__init__()
        kernel_size = 3
        n_resblocks = cfg.NETWORK.N_RESBLOCK
        n_feats = cfg.NETWORK.N_FEATURE
        n_neighbors = cfg.NETWORK.N_REIGHBOR
        scale = cfg.CONST.SCALE
        if cfg.CONST.SCALE == 4:
            scale = 2
        window = cfg.NETWORK.WINDOW_SIZE
        gcn_stride = 2
        patch_size = 3
        self.sub_mean = MeanShift(rgb_range=cfg.DATA.RANGE, sign=-1)
        self.add_mean = MeanShift(rgb_range=cfg.DATA.RANGE, sign=1)
        self.vggnet = VGG19([3])
        self.graph = Graph(scale, k=n_neighbors, patchsize=patch_size, stride=gcn_stride,
                           window_size=window, in_channels=256, embedcnn=self.vggnet)
        self.head = conv(3, n_feats, kernel_size, act_=False)
        pre_blocks = int(n_resblocks // 2)
        m_body1 = [ResBlock(n_feats, kernel_size, res_scale=cfg.NETWORK.RES_SCALE) for _ in range(pre_blocks)]
        m_body2 = [ResBlock(n_feats, kernel_size, res_scale=cfg.NETWORK.RES_SCALE)
                   for _ in range(n_resblocks - pre_blocks)]
        m_body2.append(conv(n_feats, n_feats, kernel_size, act_=False))
        fuse_b = [conv(n_feats * 2, n_feats, kernel_size), conv(n_feats, n_feats, kernel_size, act_=False)]
        fuse_up = [conv(n_feats * 2, n_feats, kernel_size), conv(n_feats, n_feats, kernel_size)]
        if cfg.CONST.SCALE == 4:
            m_tail = [upsampler(n_feats, kernel_size, scale, act_=False),
                      conv(n_feats, 3, kernel_size, act_=False)]
        else:
            m_tail = [conv(n_feats, 3, kernel_size, act_=False)]
        self.body1 = nn.Sequential(*m_body1)
        self.gcn = GCNBlock(n_feats, scale, k=n_neighbors, patchsize=patch_size, stride=gcn_stride)
        self.fuse_b = nn.Sequential(*fuse_b)
        self.body2 = nn.Sequential(*m_body2)
        self.upsample = upsampler(n_feats, kernel_size, scale, act_=False)
        self.fuse_up = nn.Sequential(*fuse_up)
        self.tail = nn.Sequential(*m_tail)

    def forward(self, x_son, x):
        score_k, idx_k, diff_patch = self.graph(x_son, x)
        idx_k = idx_k.detach()
        if cfg.NETWORK.WITH_DIFF:
            diff_patch = diff_patch.detach()
        x = self.sub_mean(x)
        x0 = self.head(x)
        x1 = self.body1(x0)
        x1_lr, x1_hr = self.gcn(x1, idx_k, diff_patch)
        x1 = self.fuse_b(torch.cat([x1, x1_lr], dim=1))
        x2 = self.body2(x1) + x0
        x = self.upsample(x2)
        x = self.fuse_up(torch.cat([x, x1_hr], dim=1))
        x = self.tail(x)
        x = self.add_mean(x)
        return x

"""SwinIR — SwinIR: Image Restoration Using Swin Transformer (Liang et al., ICCVW 2021, arXiv:2108.10257).

Port of the official ``models/network_swinir.py`` (JingyunLiang/SwinIR) for classical SR
(``upsampler='pixelshuffle'``) and lightweight SR (``'pixelshuffledirect'``), with its parameter names:
``conv_first``, ``patch_embed.norm``, ``layers.{i}.residual_group.blocks.{j}.{norm1, attn.qkv, attn.proj,
attn.relative_position_bias_table, norm2, mlp.fc1, mlp.fc2}``, ``layers.{i}.conv``, ``norm``,
``conv_after_body``, ``conv_before_upsample.0``, ``upsample.{0,2,..}``, ``conv_last``. ``nn.Linear``
weights are stored [in, out] (Paddle) instead of [out, in] (PyTorch): converting an official checkpoint
transposes them (``paddle_sr.convert`` does it for every Linear).

Differences from the official code:
- Buffers: ``relative_position_index`` is in the state dict, as official. ``attn_mask`` is not: the
  official block registers the shifted-window mask as a buffer only for the training patch size
  (``img_size``, 48 or 64) and recomputes it with ``calculate_mask`` for any other size; here the mask
  is always computed on the fly for the (padded) input size, once per forward and shared by the
  shifted blocks (numerically the same mask). There is no ``img_size`` argument (it only sized that
  buffer, the FLOP counter and a window-shrinking rule that never applies to the published
  configurations). Official checkpoints carry ``*.attn_mask`` keys: drop them when converting.
- Padding: the official test script pads the LR image outside the network by mirroring
  (``cat([x, flip(x)])``) to ``(h // window_size + 1) * window_size`` (always at least one row/column)
  and crops the SR output; here ``forward_native`` does exactly that itself, so any LR size in gives
  SR of ``scale`` times that size (inputs need at least ``window_size // 2`` pixels per side). In training
  mode it pads as the official training forward does (KAIR / SwinIR ``check_image_size``: reflect up to a
  multiple of the window, nothing for the 48 / 64 training patches): the test-time padding there would
  train the network on mirrored borders it never sees in KAIR (tests/test_step_parity_basicsr.py).
- ``forward`` takes and returns the suite's [-1, 1]; ``forward_native`` works on [0, 1]
  (``img_range`` 1, as the official classical/lightweight weights), see ``common.SRModel``.
- Stochastic depth (``drop_path_rate`` 0.1, the official default also used in training) is kept;
  dropout rates are 0 in every official configuration and are not ported, nor is ``ape``
  (absolute position embedding, off in every SR configuration), ``'nearest+conv'`` (real-world SR)
  or ``'3conv'`` residual connections.
"""
import math

import numpy as np
import paddle
import paddle.nn as nn

from paddle_sr.core.errors import SRError
from paddle_sr.models._registry import register
from paddle_sr.models.common import SRModel, init_like_torch

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


def drop_path(x, p, training):
    """Stochastic depth per sample (timm ``drop_path``): zero a sample's residual with probability p."""
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    mask = paddle.floor(keep + paddle.rand([x.shape[0]] + [1] * (x.ndim - 1), dtype=x.dtype))
    return x / keep * mask


class Mlp(nn.Layer):
    def __init__(self, in_features, hidden_features):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, in_features)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def window_partition(x, ws, c):
    """(B, H, W, C) -> (B*H/ws, W/ws, ws, ws, C): the official windows, ws*ws tokens each, in order.

    Left 5-D (the official code flattens to (nW*B, ws*ws, C)): the oneDNN predictor fuses a
    transpose + reshape pair and then mis-sizes a Linear that reads it (its fc shape check fails at
    load), so the Linear layers read transposes / write reshapes. Reshapes copy unknown sizes (0)
    so H/W may be dynamic; ws and C are Python ints (a tensor there also breaks those checks).
    """
    x = x.reshape([-1, ws, 0, 0])                     # (B*H/ws, ws, W, C)
    x = x.reshape([0, 0, -1, ws, c])                  # (B*H/ws, ws, W/ws, ws, C)
    return x.transpose([0, 2, 1, 3, 4])


def window_reverse(windows, ws, h, w, c):
    """(nW*B, ws*ws, C) windows -> (B, H, W, C)."""
    x = windows.reshape([-1, w // ws, ws, ws, c]).transpose([0, 2, 1, 3, 4])  # (B*H/ws, ws, W/ws, ws, C)
    return x.reshape([-1, h, w, c])


def calculate_mask(h, w, ws, shift):
    """(nW, ws*ws, ws*ws) SW-MSA mask for an (h, w) map: 0 within a region, -100 across (official values).

    The official code paints regions [0, h-ws), [h-ws, h-shift), [h-shift, h) per axis with a loop
    over slices; the region index is computed here with comparisons so h/w may be dynamic (export).
    """
    rows, cols = paddle.arange(h), paddle.arange(w)
    rh = (rows >= h - ws).astype("float32") + (rows >= h - shift).astype("float32")
    rw = (cols >= w - ws).astype("float32") + (cols >= w - shift).astype("float32")
    region = (rh.unsqueeze(1) * 3 + rw.unsqueeze(0)).reshape([1, h, w, 1])
    windows = window_partition(region, ws, 1).reshape([-1, ws * ws])      # (nW, ws*ws)
    diff = windows.unsqueeze(1) - windows.unsqueeze(2)
    return paddle.where(diff != 0, paddle.full_like(diff, -100.0), paddle.zeros_like(diff))


class WindowAttention(nn.Layer):
    """Window multi-head self-attention with a learned relative position bias (W-MSA / SW-MSA)."""

    def __init__(self, dim, window_size, num_heads):
        super().__init__()
        self.dim, self.window_size, self.num_heads = dim, window_size, num_heads
        self.scale = (dim // num_heads) ** -0.5
        ws = window_size
        self.relative_position_bias_table = self.create_parameter(
            [(2 * ws - 1) * (2 * ws - 1), num_heads], default_initializer=nn.initializer.Constant(0.0))
        # Index into the table for every (query, key) pair of a window, as the official buffer.
        coords = np.stack(np.meshgrid(np.arange(ws), np.arange(ws), indexing="ij")).reshape(2, -1)
        rel = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0) + (ws - 1)
        index = rel[:, :, 0] * (2 * ws - 1) + rel[:, :, 1]
        self.register_buffer("relative_position_index", paddle.to_tensor(index.astype("int64")))
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.softmax = nn.Softmax(axis=-1)

    def forward(self, x, mask=None):
        """x: (..., C) holding whole windows of ws*ws tokens in order -> (nW*B, ws*ws, C)."""
        n, c, heads = self.window_size ** 2, self.dim, self.num_heads
        qkv = self.qkv(x).reshape([-1, n, 3, heads, c // heads]).transpose([2, 0, 3, 1, 4])
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = q @ k.transpose([0, 1, 3, 2])
        bias = paddle.index_select(self.relative_position_bias_table, self.relative_position_index.reshape([-1]))
        attn = attn + bias.reshape([n, n, -1]).transpose([2, 0, 1]).unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            # (B, nW, heads, N*N) + (1, nW, 1, N*N): four dimensions, as oneDNN's five-dimensional
            # broadcasts are up to 50x slower (the official adds a (1, nW, 1, N, N) mask).
            attn = attn.reshape([-1, nw, self.num_heads, n * n]) + mask.reshape([1, nw, 1, n * n])
            attn = attn.reshape([-1, self.num_heads, n, n])
        # Heads side by side, (B_, heads, N, d) -> (B_, N, heads*d), by concatenation rather than the
        # official transpose + reshape (see window_partition: the oneDNN predictor breaks on that).
        x = paddle.concat(paddle.unbind(self.softmax(attn) @ v, axis=1), axis=-1)
        return self.proj(x)


class SwinTransformerBlock(nn.Layer):
    """LayerNorm -> (shifted) window attention -> residual; LayerNorm -> MLP -> residual."""

    def __init__(self, dim, num_heads, window_size, shift_size, mlp_ratio, drop_path):
        super().__init__()
        self.dim, self.window_size, self.shift_size, self.drop_path = dim, window_size, shift_size, drop_path
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window_size, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x, x_size, attn_mask):
        h, w = x_size
        c, ws, s = self.dim, self.window_size, self.shift_size
        shortcut = x
        x = self.norm1(x).reshape([-1, h, w, c])
        if s > 0:
            x = paddle.roll(x, shifts=(-s, -s), axis=(1, 2))
        x = self.attn(window_partition(x, ws, c), mask=attn_mask if s > 0 else None)
        x = window_reverse(x, ws, h, w, c)
        if s > 0:
            x = paddle.roll(x, shifts=(s, s), axis=(1, 2))
        x = shortcut + drop_path(x.reshape([-1, h * w, c]), self.drop_path, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.drop_path, self.training)


class BasicLayer(nn.Layer):
    def __init__(self, dim, depth, num_heads, window_size, mlp_ratio, drop_path):
        super().__init__()
        self.blocks = nn.LayerList([
            SwinTransformerBlock(dim, num_heads, window_size, 0 if i % 2 == 0 else window_size // 2, mlp_ratio,
                                 drop_path[i]) for i in range(depth)])

    def forward(self, x, x_size, attn_mask):
        for blk in self.blocks:
            x = blk(x, x_size, attn_mask)
        return x


class RSTB(nn.Layer):
    """Residual Swin Transformer block: ``depth`` Swin blocks, a 3x3 conv, plus the input."""

    def __init__(self, dim, depth, num_heads, window_size, mlp_ratio, drop_path):
        super().__init__()
        self.residual_group = BasicLayer(dim, depth, num_heads, window_size, mlp_ratio, drop_path)
        self.conv = nn.Conv2D(dim, dim, 3, padding=1)

    def forward(self, x, x_size, attn_mask):
        y = self.residual_group(x, x_size, attn_mask)
        y = self.conv(_unembed(y, x_size))
        return y.flatten(2).transpose([0, 2, 1]) + x


def _unembed(x, x_size):
    """(B, H*W, C) tokens -> (B, C, H, W) (the official PatchUnEmbed, which has no parameters)."""
    return x.transpose([0, 2, 1]).reshape([0, 0, x_size[0], x_size[1]])


class PatchEmbed(nn.Layer):
    """(B, C, H, W) -> (B, H*W, C) tokens, LayerNorm'ed (patch size 1: no projection)."""

    def __init__(self, embed_dim):
        super().__init__()
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x):
        return self.norm(x.flatten(2).transpose([0, 2, 1]))


class Upsample(nn.Sequential):
    """conv + PixelShuffle: log2(scale) x2 stages for powers of two, one x3 stage for 3 (official names)."""

    def __init__(self, scale, num_feat):
        layers = []
        if scale & (scale - 1) == 0:
            for _ in range(int(math.log2(scale))):
                layers += [nn.Conv2D(num_feat, 4 * num_feat, 3, padding=1), nn.PixelShuffle(2)]
        elif scale == 3:
            layers += [nn.Conv2D(num_feat, 9 * num_feat, 3, padding=1), nn.PixelShuffle(3)]
        else:
            raise ValueError(f"Upsample supports scale 3 and powers of 2, got {scale}")
        super().__init__(*layers)


class SwinIR(SRModel):
    """SwinIR for classical / lightweight image SR.

    Args:
        scale: upscaling factor (``upscale``).
        embed_dim: C, channels of the features and tokens (180 classical, 60 lightweight).
        depths: Swin blocks per RSTB (6 RSTBs of 6 classical, 4 of 6 lightweight).
        num_heads: attention heads per RSTB.
        window_size: M, attention window side (8).
        mlp_ratio: MLP hidden size / C (2).
        upsampler: 'pixelshuffle' (classical: conv + LeakyReLU, Upsample, conv_last) or
            'pixelshuffledirect' (lightweight: one conv + PixelShuffle).
        drop_path_rate: stochastic depth, linearly 0 -> rate over all blocks (official default 0.1).
        in_chans: image channels.
        value_range: range the weights work on; (0, 1) as the official weights (``img_range`` 1).
    """

    def __init__(self, scale=2, embed_dim=180, depths=(6, 6, 6, 6, 6, 6), num_heads=(6, 6, 6, 6, 6, 6),
                 window_size=8, mlp_ratio=2.0, upsampler="pixelshuffle", drop_path_rate=0.1, in_chans=3,
                 value_range=(0.0, 1.0)):
        super().__init__(value_range)
        if len(depths) != len(num_heads) or any(embed_dim % h for h in num_heads):
            raise SRError(f"SwinIR needs one head count per RSTB, each dividing embed_dim={embed_dim}; "
                          f"got depths={list(depths)} num_heads={list(num_heads)}")
        self.scale, self.window_size, self.upsampler = scale, window_size, upsampler
        mean = DIV2K_MEAN if in_chans == 3 else (0.0,) * in_chans
        self.register_buffer("mean", paddle.to_tensor(mean, dtype="float32").reshape([1, -1, 1, 1]),
                             persistable=False)  # official: a plain tensor attribute, not in the state dict
        self.conv_first = nn.Conv2D(in_chans, embed_dim, 3, padding=1)
        self.patch_embed = PatchEmbed(embed_dim)
        dpr = np.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.layers = nn.LayerList([
            RSTB(embed_dim, d, h, window_size, mlp_ratio, dpr[sum(depths[:i]):sum(depths[:i + 1])])
            for i, (d, h) in enumerate(zip(depths, num_heads))])
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = nn.Conv2D(embed_dim, embed_dim, 3, padding=1)
        if upsampler == "pixelshuffle":
            num_feat = 64
            self.conv_before_upsample = nn.Sequential(nn.Conv2D(embed_dim, num_feat, 3, padding=1), nn.LeakyReLU())
            self.upsample = Upsample(scale, num_feat)
            self.conv_last = nn.Conv2D(num_feat, in_chans, 3, padding=1)
        elif upsampler == "pixelshuffledirect":
            self.upsample = nn.Sequential(nn.Conv2D(embed_dim, scale * scale * in_chans, 3, padding=1),
                                          nn.PixelShuffle(scale))
        else:
            raise SRError(f"SwinIR upsampler must be 'pixelshuffle' or 'pixelshuffledirect', got {upsampler!r}")
        self._init_weights()

    def _init_weights(self):
        # Official: PyTorch-default convs; Linear trunc_normal(std .02) and zero bias; LayerNorm (1, 0);
        # bias tables trunc_normal(std .02). timm truncates at +-2 (absolute, i.e. 100 std): a plain normal.
        init_like_torch(self)
        for layer in self.sublayers():
            if isinstance(layer, nn.Linear):
                layer.weight.set_value(paddle.normal(0.0, 0.02, layer.weight.shape).clip(-2, 2))
                layer.bias.set_value(paddle.zeros_like(layer.bias))
            elif isinstance(layer, WindowAttention):
                t = layer.relative_position_bias_table
                t.set_value(paddle.normal(0.0, 0.02, t.shape).clip(-2, 2))

    def forward_features(self, x):
        x_size = (x.shape[2], x.shape[3])
        ws = self.window_size
        attn_mask = calculate_mask(x_size[0], x_size[1], ws, ws // 2)
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x, x_size, attn_mask)
        return _unembed(self.norm(x), x_size)

    def forward_native(self, x):
        h, w = x.shape[2], x.shape[3]
        ws = self.window_size
        if isinstance(h, int) and min(h, w) < ws // 2:
            raise SRError(f"SwinIR needs LR inputs of at least {ws // 2}x{ws // 2} pixels, got {h}x{w}; "
                          f"use a larger image or tile")
        ph, pw = (ws - h % ws) % ws, (ws - w % ws) % ws
        if self.training and (not isinstance(h, int) or (ph < h and pw < w)):
            # The official training forward (KAIR models/network_swinir.py ``check_image_size``): reflect-pad
            # only up to a multiple of the window -- nothing for the 48 / 64 training patches. (A patch too
            # small to reflect, which the official code cannot train on, falls back to the test-time padding.)
            if ph or pw:
                x = nn.functional.pad(x, [0, pw, 0, ph], mode="reflect")
        else:
            # Official test-time padding: mirror to the next multiple of the window (always >= 1 row/col).
            x = paddle.concat([x, _mirror_rows(x, 2, ws)], axis=2)[:, :, :(h // ws + 1) * ws, :]
            x = paddle.concat([x, _mirror_rows(x, 3, ws)], axis=3)[:, :, :, :(w // ws + 1) * ws]
        x = x - self.mean  # img_range 1
        x = self.conv_first(x)
        x = self.conv_after_body(self.forward_features(x)) + x
        if self.upsampler == "pixelshuffle":
            x = self.conv_last(self.upsample(self.conv_before_upsample(x)))
        else:
            x = self.upsample(x)
        x = x + self.mean
        return x[:, :, :h * self.scale, :w * self.scale]


@register("swinir", scales=(2, 3, 4, 8))
def swinir(scale=2, **kwargs):
    """Classical SR SwinIR (Sec. 4.1): 6 RSTBs x 6 blocks, C=180, 6 heads, window 8, MLP ratio 2."""
    return SwinIR(scale=scale, **kwargs)


@register("swinir_light", scales=(2, 3, 4))
def swinir_light(scale=2, **kwargs):
    """Lightweight SR SwinIR (Sec. 4.1): 4 RSTBs x 6 blocks, C=60, one-step pixel-shuffle upsampler."""
    kwargs = {"embed_dim": 60, "depths": (6, 6, 6, 6), "num_heads": (6, 6, 6, 6),
              "upsampler": "pixelshuffledirect", **kwargs}
    return SwinIR(scale=scale, **kwargs)


def _mirror_rows(x, axis, n):
    """The first ``n`` rows of ``x.flip([axis])`` (the last rows in reverse; the first row repeats when the
    axis is shorter than ``n``): a gather with constant-length indices, because ONNX export cannot flip an
    axis of dynamic length. The padding above uses at most ``n`` of them, never a repeated one."""
    last = paddle.shape(x)[axis] - 1
    idx = paddle.clip(last - paddle.arange(n, dtype="int64"), min=0)
    return paddle.index_select(x, idx, axis=axis)

"""PyTorch references for the classic pre-upsampling / Y-channel models, re-typed for parity tests.
Test-only (needs torch).

- ``SRCNN``: yjn870/SRCNN-pytorch ``models.py`` (9-5-5, zero padding; ``padding_mode`` added so the
  official MATLAB test's replicate padding can be checked too).
- ``ESPCN``: yjn870/ESPCN-pytorch ``models.py`` (init left out: weights are copied anyway).
- ``VDSR``: twtygqyy/pytorch-vdsr ``vdsr.py`` (``Conv_ReLU_Block``; depth made an argument).
- ``DRRNPort``: jt827859032/DRRN-pytorch ``drrn.py`` (no BN, no bias; unit count made an argument).
- ``DRRNCaffe``: the official tyshiwo/DRRN_CVPR17 prototxt (BatchNorm+Scale = ``BatchNorm2d``,
  biased convs, per-unit BN, shared convs), re-typed layer by layer; names as the Paddle port.
- ``DRCN``: the paper's advanced model (Kim et al. 2016, Sec. 3.2) — no official PyTorch exists.
The weights of every reference are random; each test copies them into the Paddle model.
"""
import torch
import torch.nn as nn


class SRCNN(nn.Module):
    def __init__(self, num_channels=1, padding_mode="zeros"):
        super().__init__()
        self.conv1 = nn.Conv2d(num_channels, 64, kernel_size=9, padding=9 // 2, padding_mode=padding_mode)
        self.conv2 = nn.Conv2d(64, 32, kernel_size=5, padding=5 // 2, padding_mode=padding_mode)
        self.conv3 = nn.Conv2d(32, num_channels, kernel_size=5, padding=5 // 2, padding_mode=padding_mode)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.conv3(x)
        return x


class ESPCN(nn.Module):
    def __init__(self, scale_factor, num_channels=1):
        super().__init__()
        self.first_part = nn.Sequential(
            nn.Conv2d(num_channels, 64, kernel_size=5, padding=5 // 2),
            nn.Tanh(),
            nn.Conv2d(64, 32, kernel_size=3, padding=3 // 2),
            nn.Tanh(),
        )
        self.last_part = nn.Sequential(
            nn.Conv2d(32, num_channels * (scale_factor ** 2), kernel_size=3, padding=3 // 2),
            nn.PixelShuffle(scale_factor)
        )

    def forward(self, x):
        x = self.first_part(x)
        x = self.last_part(x)
        return x


class Conv_ReLU_Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(in_channels=64, out_channels=64, kernel_size=3, stride=1, padding=1, bias=False)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.conv(x))


class VDSR(nn.Module):
    def __init__(self, num_of_layer=18):
        super().__init__()
        self.residual_layer = nn.Sequential(*[Conv_ReLU_Block() for _ in range(num_of_layer)])
        self.input = nn.Conv2d(in_channels=1, out_channels=64, kernel_size=3, stride=1, padding=1, bias=False)
        self.output = nn.Conv2d(in_channels=64, out_channels=1, kernel_size=3, stride=1, padding=1, bias=False)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        residual = x
        out = self.relu(self.input(x))
        out = self.residual_layer(out)
        out = self.output(out)
        out = torch.add(out, residual)
        return out


class DRRNPort(nn.Module):
    def __init__(self, units=25, channels=128):
        super().__init__()
        self.units = units
        self.input = nn.Conv2d(1, channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.output = nn.Conv2d(channels, 1, kernel_size=3, stride=1, padding=1, bias=False)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        residual = x
        inputs = self.input(self.relu(x))
        out = inputs
        for _ in range(self.units):
            out = self.conv2(self.relu(self.conv1(self.relu(out))))
            out = torch.add(out, inputs)
        out = self.output(self.relu(out))
        out = torch.add(out, residual)
        return out


class DRRNCaffe(nn.Module):
    """bn_conv1/scale_conv1 -> relu1 -> conv1; per unit u: bn_conv1_{u}a -> relu -> conv1_{u}a (RB1_wa),
    bn_conv1_{u}b -> relu -> conv1_{u}b (RB1_wb), eltwise SUM with conv1; bn_conv_end -> relu ->
    conv_end; HR_recovery = data + conv_end."""

    def __init__(self, units=25, channels=128):
        super().__init__()
        self.units = units
        self.bn_input = nn.BatchNorm2d(1)
        self.input = nn.Conv2d(1, channels, 3, padding=1)
        self.bn1 = nn.ModuleList([nn.BatchNorm2d(channels) for _ in range(units)])
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)  # RB1_wa / RB1_ba
        self.bn2 = nn.ModuleList([nn.BatchNorm2d(channels) for _ in range(units)])
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)  # RB1_wb / RB1_bb
        self.bn_output = nn.BatchNorm2d(channels)
        self.output = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, data):
        conv1 = self.input(torch.relu(self.bn_input(data)))
        eltwise = conv1
        for u in range(self.units):
            a = self.conv1(torch.relu(self.bn1[u](eltwise)))
            b = self.conv2(torch.relu(self.bn2[u](a)))
            eltwise = conv1 + b
        conv_end = self.output(torch.relu(self.bn_output(eltwise)))
        return data + conv_end


class DRCN(nn.Module):
    """Embedding f1 (H_-1, H_0), shared inference g (D recursions), shared reconstruction f3 with the
    skip connection on every intermediate prediction, final = sum_d w_d y_d."""

    def __init__(self, recursions=16, features=256):
        super().__init__()
        self.recursions = recursions
        self.embedding_net = nn.Sequential(nn.Conv2d(1, features, 3, padding=1), nn.ReLU(),
                                           nn.Conv2d(features, features, 3, padding=1), nn.ReLU())
        self.inference_net = nn.Sequential(nn.Conv2d(features, features, 3, padding=1), nn.ReLU())
        self.reconstruction_net = nn.Sequential(nn.Conv2d(features, features, 3, padding=1), nn.ReLU(),
                                                nn.Conv2d(features, 1, 3, padding=1))
        self.layer_weight = nn.Parameter(torch.full((recursions,), 1.0 / recursions))

    def forward(self, x):
        h = self.embedding_net(x)
        preds = []
        for _ in range(self.recursions):
            h = self.inference_net(h)
            preds.append(self.reconstruction_net(h) + x)
        out = sum(self.layer_weight[d] * preds[d] for d in range(self.recursions))
        return out, preds

"""BasicSR's and KAIR's training steps, re-typed (test-only), for the step-parity tests of the SRResNet / SRGAN /
ESRGAN / SwinIR recipes (``tests/test_step_parity_basicsr.py``, harness ``tests/step_parity.py``).

Re-typed from XPixelGroup/BasicSR (HEAD read 2026-12):
- ``basicsr/models/sr_model.py`` ``SRModel.optimize_parameters``: zero_grad, ``l_pix = cri_pix(output, gt)``
  (``L1Loss`` / ``MSELoss`` of ``basicsr/losses/basic_loss.py``: ``loss_weight * F.l1_loss / F.mse_loss``,
  reduction mean), backward, ``optimizer_g.step()``, then ``model_ema(decay)`` when ``ema_decay > 0``.
- ``basicsr/models/srgan_model.py`` ``SRGANModel.optimize_parameters``: the G step (D frozen) with pixel +
  perceptual + ``cri_gan(net_d(output), True, is_disc=False)``; the D step: ``l_d_real = cri_gan(net_d(gt),
  True, is_disc=True)`` backward, ``l_d_fake = cri_gan(net_d(output.detach()), False, is_disc=True)``
  backward -- a SUM of the two cross-entropies, no loss weight for D (``GANLoss.forward``).
- ``basicsr/models/esrgan_model.py`` ``ESRGANModel.optimize_parameters``: relativistic average GAN; G:
  ``(cri_gan(real - mean(fake), False) + cri_gan(fake - mean(real), True)) / 2`` with ``real = net_d(gt).detach()``;
  D: ``fake_d_pred = net_d(output).detach()`` (a forward of its own, in train mode), ``real_d_pred = net_d(gt)``,
  ``l_d_real = 0.5 * cri_gan(real_d_pred - mean(fake_d_pred), True)`` backward, then
  ``fake_d_pred = net_d(output.detach())``, ``l_d_fake = 0.5 * cri_gan(fake_d_pred - mean(real_d_pred.detach()),
  False)`` backward: each term's gradient reaches D only through its own prediction.
- ``basicsr/losses/basic_loss.py`` ``PerceptualLoss`` (``layer_weights``, ``perceptual_weight``, criterion
  l1 / l2, ``gt.detach()``), ``basicsr/archs/vgg_arch.py`` ``VGGFeatureExtractor`` (``use_input_norm``: ImageNet
  mean / std on [0, 1]; ``range_norm``: ``(x + 1) / 2`` first; a layer name ``conv5_4`` is before its ReLU,
  ``relu5_4`` after), ``basicsr/losses/gan_loss.py`` ``GANLoss('vanilla')`` (``BCEWithLogitsLoss``).
- ``basicsr/models/base_model.py``: ``get_optimizer`` (``torch.optim.Adam(params, lr, weight_decay, betas)``),
  MultiStepLR, ``update_learning_rate`` (``scheduler.step()`` when ``current_iter > 1``, before the step),
  ``model_ema`` (parameters only: ``ema.mul_(decay).add_(p, alpha=1 - decay)``).
Re-typed from cszn/KAIR: ``main_train_psnr.py`` (``current_step += 1; model.update_learning_rate(current_step);
model.optimize_parameters(current_step)``), ``models/model_base.py`` (``scheduler.step(n)``: the explicit-epoch
form, so step n runs at the lr of epoch n), ``models/model_plain.py`` (``G_lossfn_weight * nn.L1Loss()(E, H)``,
Adam with ``G_optimizer_betas`` default [0.9, 0.999] (``utils/utils_option.py``), ``update_E``: parameters only).

KAIR's SwinIR (``models/network_swinir.py``) pads its input in ``forward`` with ``check_image_size`` (reflect, up
to a multiple of the window); the re-typed network in ``swinir_san_torch.py`` has no such pad, which is the same
for the training patches used here (multiples of the window: no pad at all).

The SRGAN paper's authors published no training code: ``SRResNetTorch`` / ``SRGANDiscriminatorTorch`` re-type
the paper's networks (Fig. 4) as the suite builds them, and the SRGAN steps are BasicSR's with the paper's
loss weights. VGG convolutions are built as wide as the test asks (``channels``): the layer structure,
input normalisation and layer choice are VGG19's; the weights are copied from the suite's extractor.
"""
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from tests.reference import torch_state_to_numpy

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG19_BLOCKS = (2, 2, 4, 4, 4)


# ------------------------------------------------------------------------------------------------
# networks
# ------------------------------------------------------------------------------------------------

class SRResNetTorch(nn.Module):
    """SRResNet (Ledig et al. Fig. 4, top) with the suite's parameter names (``paddle_sr/models/srresnet.py``)."""

    def __init__(self, scale=4, channels=64, num_blocks=16, act="prelu"):
        super().__init__()

        def activation(c):
            return nn.PReLU(c, init=0.25) if act == "prelu" else nn.ReLU()

        class RB(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1, self.bn1 = nn.Conv2d(channels, channels, 3, 1, 1), nn.BatchNorm2d(channels)
                self.prelu = activation(channels)
                self.conv2, self.bn2 = nn.Conv2d(channels, channels, 3, 1, 1), nn.BatchNorm2d(channels)

            def forward(self, x):
                return x + self.bn2(self.conv2(self.prelu(self.bn1(self.conv1(x)))))

        class US(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv, self.ps, self.prelu = nn.Conv2d(channels, 4 * channels, 3, 1, 1), nn.PixelShuffle(2), \
                    activation(channels)

            def forward(self, x):
                return self.prelu(self.ps(self.conv(x)))

        self.conv1, self.prelu = nn.Conv2d(3, channels, 9, 1, 4), activation(channels)
        self.num_blocks, self.num_us = num_blocks, scale // 2
        for i in range(num_blocks):
            self.add_module(f"rb_{i}", RB())
        self.conv2, self.bn = nn.Conv2d(channels, channels, 3, 1, 1), nn.BatchNorm2d(channels)
        for k in range(self.num_us):
            self.add_module(f"us{k + 1}", US())
        self.conv3 = nn.Conv2d(channels, 3, 9, 1, 4)

    def forward(self, x):
        x = self.prelu(self.conv1(x))
        y = x
        for i in range(self.num_blocks):
            y = getattr(self, f"rb_{i}")(y)
        y = x + self.bn(self.conv2(y))
        for k in range(self.num_us):
            y = getattr(self, f"us{k + 1}")(y)
        return self.conv3(y)


class SRGANDiscriminatorTorch(nn.Module):
    """SRGAN's discriminator (paper Fig. 4, bottom), logits, the suite's names (``SRGANDiscriminator``)."""

    def __init__(self, hr_patch_size=96, channels=64):
        super().__init__()
        c = channels
        self.conv = nn.Conv2d(3, c, 3, 1, 1)
        plan = [(c, c, 2), (c, 2 * c, 1), (2 * c, 2 * c, 2), (2 * c, 4 * c, 1),
                (4 * c, 4 * c, 2), (4 * c, 8 * c, 1), (8 * c, 8 * c, 2)]
        for i, (cin, cout, s) in enumerate(plan):
            self.add_module(f"cna{i + 1}", nn.Sequential(OrderedDict(
                conv=nn.Conv2d(cin, cout, 3, s, 1), bn=nn.BatchNorm2d(cout), lrelu=nn.LeakyReLU(0.2))))
        self.fc1 = nn.Linear((hr_patch_size // 16) ** 2 * 8 * c, 16 * c)
        self.fc2 = nn.Linear(16 * c, 1)

    def forward(self, x):
        x = F.leaky_relu(self.conv(x), 0.2)
        for i in range(7):
            x = getattr(self, f"cna{i + 1}")(x)
        return self.fc2(F.leaky_relu(self.fc1(torch.flatten(x, 1)), 0.2))


class VGGFeatureExtractor(nn.Module):
    """BasicSR ``VGGFeatureExtractor`` for one layer of VGG19 (``layer_name_list=[layer]``), frozen."""

    def __init__(self, layer, channels, use_input_norm=True, range_norm=False, bias=False):
        super().__init__()
        self.layer, self.use_input_norm, self.range_norm = layer, use_input_norm, range_norm
        names, modules, cin = [], [], 3
        for b, n in enumerate(VGG19_BLOCKS, 1):
            for k in range(1, n + 1):
                names += [f"conv{b}_{k}", f"relu{b}_{k}"]
                modules += [nn.Conv2d(cin, channels[b - 1], 3, 1, 1, bias=bias), nn.ReLU(inplace=False)]
                cin = channels[b - 1]
            names.append(f"pool{b}")
            modules.append(nn.MaxPool2d(2, 2))
        keep = names.index(layer) + 1  # BasicSR drops the layers after the last requested one
        self.names = names[:keep]
        self.vgg_net = nn.Sequential(OrderedDict(zip(self.names, modules[:keep])))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.eval()
        for p in self.parameters():
            p.requires_grad = False

    def load_suite(self, state):
        """Weights from the suite extractor's state (``_conv_block_{b}._conv_{k}.weight``)."""
        with torch.no_grad():
            for name in self.names:
                if name.startswith("conv"):
                    b, k = name[4:].split("_")
                    getattr(self.vgg_net, name).weight.copy_(torch.from_numpy(state[f"_conv_block_{b}._conv_{k}.weight"]))

    def forward(self, x):
        if self.range_norm:
            x = (x + 1) / 2
        if self.use_input_norm:
            x = (x - self.mean) / self.std
        out = {}
        for key, layer in self.vgg_net._modules.items():
            x = layer(x)
            if key == self.layer:
                out[key] = x.clone()
        return out


class PerceptualLoss(nn.Module):
    """BasicSR ``PerceptualLoss`` (style weight 0)."""

    def __init__(self, vgg, layer_weights, perceptual_weight=1.0, criterion="l1"):
        super().__init__()
        self.vgg, self.layer_weights, self.perceptual_weight = vgg, layer_weights, perceptual_weight
        self.criterion = nn.L1Loss() if criterion == "l1" else nn.MSELoss()

    def forward(self, x, gt):
        x_features = self.vgg(x)
        gt_features = self.vgg(gt.detach())
        percep_loss = 0
        for k in x_features.keys():
            percep_loss += self.criterion(x_features[k], gt_features[k]) * self.layer_weights[k]
        return percep_loss * self.perceptual_weight


class GANLoss(nn.Module):
    """BasicSR ``GANLoss(gan_type='vanilla')``: BCE with logits; ``loss_weight`` for the generator only."""

    def __init__(self, loss_weight=1.0):
        super().__init__()
        self.loss, self.loss_weight = nn.BCEWithLogitsLoss(), loss_weight

    def forward(self, x, target_is_real, is_disc=False):
        target = x.new_ones(x.size()) * (1.0 if target_is_real else 0.0)
        loss = self.loss(x, target)
        return loss if is_disc else loss * self.loss_weight


# ------------------------------------------------------------------------------------------------
# names and ranges
# ------------------------------------------------------------------------------------------------

def to_suite_state(module, linear=()):
    """A torch module's state in the suite's names: BN ``running_mean/var`` -> ``_mean/_variance`` (Paddle),
    ``num_batches_tracked`` dropped, ``linear`` weights transposed."""
    out = {}
    for k, v in torch_state_to_numpy(module, transpose=linear).items():
        if k.endswith("num_batches_tracked") or k.endswith("attn_mask"):
            continue
        out[_suite_name(k)] = v
    return out


def _suite_name(k):
    k = k.replace("running_mean", "_mean").replace("running_var", "_variance")
    return k[:-len("weight")] + "_weight" if k.endswith("prelu.weight") else k  # Paddle PReLU: ``_weight``


def load_suite_state(module, state, linear=()):
    """The inverse of ``to_suite_state``: the suite's numpy state into ``module`` (every key must be used)."""
    own = module.state_dict()
    new = {}
    for k in own:
        if k.endswith("num_batches_tracked") or k.endswith("attn_mask"):
            new[k] = own[k]
            continue
        v = np.asarray(state[_suite_name(k)])
        new[k] = torch.from_numpy(np.ascontiguousarray(v.T if k in linear else v))
    module.load_state_dict(new)


def linear_weights(module):
    return [n + ".weight" for n, m in module.named_modules() if isinstance(m, nn.Linear)]


def unit(x):
    """Suite [-1, 1] -> BasicSR / KAIR data on [0, 1] (``img2tensor`` of ``imfrombytes(float32=True)``)."""
    return torch.from_numpy(np.ascontiguousarray((x.astype(np.float64) + 1.0) / 2.0))


def paper(x):
    """Suite [-1, 1] as it is: SRGAN Sec. 3.2 scales the HR images (and the generator's output) to [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(x.astype(np.float64)))


def _ema_update(ema, net, decay):
    with torch.no_grad():
        p_net = dict(net.named_parameters())
        for k, p in ema.named_parameters():
            p.mul_(decay).add_(p_net[k], alpha=1 - decay)


def _copy(module):
    import copy
    out = copy.deepcopy(module)
    for p in out.parameters():
        p.requires_grad = False
    return out


# ------------------------------------------------------------------------------------------------
# training loops
# ------------------------------------------------------------------------------------------------

def sr_trajectory(net_g, batches, dtype, data, pixel="l1", loss_weight=1.0, lr=2e-4, betas=(0.9, 0.99),
                  milestones=(), gamma=0.5, ema_decay=0.0, scheduler="basicsr", linear=()):
    """BasicSR ``SRModel`` (``scheduler='basicsr'``) or KAIR ``ModelPlain`` (``'kair'``) on ``batches``.

    ``data`` maps a suite numpy batch to what the official loader hands the model (``unit`` / ``paper``).
    Returns a Trajectory ({'pixel': l_pix}; ``others['ema']`` with an EMA)."""
    from tests.step_parity import Trajectory

    net_g = net_g.to(dtype).train()
    init = to_suite_state(net_g, linear)
    ema = _copy(net_g) if ema_decay > 0 else None
    opt = torch.optim.Adam([p for p in net_g.parameters() if p.requires_grad], lr=lr, weight_decay=0,
                           betas=betas)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, list(milestones), gamma)
    fn = F.l1_loss if pixel == "l1" else F.mse_loss
    losses, lrs = [], []
    for it, (lq, gt) in enumerate(batches, start=1):
        if scheduler == "kair":
            sched.step(it)  # model_base.update_learning_rate(n): scheduler.step(n)
        elif it > 1:
            sched.step()  # base_model.update_learning_rate: step() when current_iter > 1
        lrs.append(opt.param_groups[0]["lr"])
        lq, gt = data(lq).to(dtype), data(gt).to(dtype)
        opt.zero_grad()
        output = net_g(lq)
        l_pix = loss_weight * fn(output, gt)
        l_pix.backward()
        opt.step()
        if ema is not None:
            _ema_update(ema, net_g, ema_decay)
        losses.append({"pixel": l_pix.item()})
    traj = Trajectory(losses, lrs, to_suite_state(net_g, linear), init)
    if ema is not None:
        traj.others["ema"], traj.others_init["ema"] = to_suite_state(ema, linear), init
    return traj


def gan_trajectory(net_g, net_d, batches, dtype, data, gan="vanilla", pixel_weight=0.0, perceptual=None,
                   gan_weight=1e-3, lr=1e-4, d_lr=1e-4, betas=(0.9, 0.99), milestones=(), gamma=0.5, ema_decay=0.0,
                   pixel="l1", d_scale=1.0, joint=None):
    """BasicSR ``SRGANModel`` (``gan='vanilla'``) or ``ESRGANModel`` (``gan='ragan'``), net_d_iters 1,
    net_d_init_iters 0. ``perceptual``: a ``PerceptualLoss`` (or None). Losses named as the suite logs them:
    pixel, perceptual, adversarial (the weighted G terms), discriminator (l_d_real + l_d_fake).

    For the SRGAN notebook's settings: ``pixel`` 'l2', ``d_scale`` 0.5 (its D loss is the mean of the two
    cross-entropies), ``joint`` a copy of the generator trained beside it with MSE (its ``srresnet_trainer``)."""
    from tests.step_parity import Trajectory

    net_g, net_d = net_g.to(dtype).train(), net_d.to(dtype).train()
    if perceptual is not None:
        perceptual = perceptual.to(dtype)
    g_linear, d_linear = linear_weights(net_g), linear_weights(net_d)
    init, d_init = to_suite_state(net_g, g_linear), to_suite_state(net_d, d_linear)
    ema = _copy(net_g) if ema_decay > 0 else None
    if joint is not None:
        joint = joint.to(dtype).train()
        opt_j = torch.optim.Adam(joint.parameters(), lr=lr, weight_decay=0, betas=betas)
    cri_gan = GANLoss(gan_weight)
    opt_g = torch.optim.Adam(net_g.parameters(), lr=lr, weight_decay=0, betas=betas)
    opt_d = torch.optim.Adam(net_d.parameters(), lr=d_lr, weight_decay=0, betas=betas)
    scheds = [torch.optim.lr_scheduler.MultiStepLR(o, list(milestones), gamma) for o in (opt_g, opt_d)]
    losses, lrs = [], []
    for it, (lq, gt) in enumerate(batches, start=1):
        if it > 1:
            for s in scheds:
                s.step()
        lrs.append(opt_g.param_groups[0]["lr"])
        lq, gt = data(lq).to(dtype), data(gt).to(dtype)
        log = {}
        # --- optimize net_g
        for p in net_d.parameters():
            p.requires_grad = False
        opt_g.zero_grad()
        output = net_g(lq)
        l_g_total = 0
        if pixel_weight > 0:
            l_g_pix = pixel_weight * (F.l1_loss if pixel == "l1" else F.mse_loss)(output, gt)
            l_g_total += l_g_pix
            log["pixel"] = l_g_pix.item()
        if perceptual is not None:
            l_g_percep = perceptual(output, gt)
            l_g_total += l_g_percep
            log["perceptual"] = l_g_percep.item()
        if gan == "ragan":
            real_d_pred = net_d(gt).detach()
            fake_g_pred = net_d(output)
            l_g_real = cri_gan(real_d_pred - torch.mean(fake_g_pred), False, is_disc=False)
            l_g_fake = cri_gan(fake_g_pred - torch.mean(real_d_pred), True, is_disc=False)
            l_g_gan = (l_g_real + l_g_fake) / 2
        else:
            l_g_gan = cri_gan(net_d(output), True, is_disc=False)
        l_g_total += l_g_gan
        log["adversarial"] = l_g_gan.item()
        l_g_total.backward()
        opt_g.step()
        # --- optimize net_d
        for p in net_d.parameters():
            p.requires_grad = True
        opt_d.zero_grad()
        if gan == "ragan":
            fake_d_pred = net_d(output).detach()
            real_d_pred = net_d(gt)
            l_d_real = cri_gan(real_d_pred - torch.mean(fake_d_pred), True, is_disc=True) * 0.5
            l_d_real.backward()
            fake_d_pred = net_d(output.detach())
            l_d_fake = cri_gan(fake_d_pred - torch.mean(real_d_pred.detach()), False, is_disc=True) * 0.5
            l_d_fake.backward()
        else:
            real_d_pred = net_d(gt)
            l_d_real = d_scale * cri_gan(real_d_pred, True, is_disc=True)
            l_d_real.backward()
            fake_d_pred = net_d(output.detach())
            l_d_fake = d_scale * cri_gan(fake_d_pred, False, is_disc=True)
            l_d_fake.backward()
        opt_d.step()
        log["discriminator"] = l_d_real.item() + l_d_fake.item()
        if joint is not None:
            opt_j.zero_grad()
            l_j = F.mse_loss(joint(lq), gt)
            l_j.backward()
            opt_j.step()
            log["srresnet_mse"] = l_j.item()
        if ema is not None:
            _ema_update(ema, net_g, ema_decay)
        losses.append(log)
    traj = Trajectory(losses, lrs, to_suite_state(net_g, g_linear), init,
                      {"discriminator": to_suite_state(net_d, d_linear)}, {"discriminator": d_init})
    if ema is not None:
        traj.others["ema"], traj.others_init["ema"] = to_suite_state(ema, g_linear), init
    if joint is not None:
        traj.others["srresnet"], traj.others_init["srresnet"] = to_suite_state(joint), init
    return traj


def notebook_trajectory(net_g, net_d, joint, vgg, batches, dtype, lam1=1e-2, lam2=1e-2, lr=1e-4):
    """The SRGAN seed notebook's own loop, as it is (``srresnet_trainer`` then ``srgan_trainer``), for measuring
    how far the suite's corrected step is from it. ``net_d`` returns logits; the notebook's D ends in a sigmoid.

    Its defects, kept here: one D forward on ``concat([sr, hr])`` (BatchNorm statistics over both halves);
    ``loss_g.backward(retain_graph=True); loss_adversarial_d.backward()`` before both ``minimize`` calls, so
    G's step takes the gradient of loss_g + loss_d (loss_d's -log(1 - D(sr)) is not detached from G) and D's
    the gradient of loss_g + loss_d; the VGG fed [-1, 1] without ImageNet normalisation; D's first dense
    layer never trained (two sub-layers registered as ``fc1``: not in ``parameters()``). Adam(1e-4, beta1 0.9)
    with Paddle's defaults (beta2 0.999, epsilon 1e-8) for all three networks."""
    from tests.step_parity import Trajectory

    net_g, net_d, joint = net_g.to(dtype).train(), net_d.to(dtype).train(), joint.to(dtype).train()
    vgg = vgg.to(dtype)
    d_linear = linear_weights(net_d)
    init, d_init = to_suite_state(net_g), to_suite_state(net_d, d_linear)
    adam = dict(lr=lr, betas=(0.9, 0.999), eps=1e-8)
    opt_j, opt_g = torch.optim.Adam(joint.parameters(), **adam), torch.optim.Adam(net_g.parameters(), **adam)
    opt_d = torch.optim.Adam([p for n, p in net_d.named_parameters() if not n.startswith("fc1.")], **adam)
    losses, lrs = [], []
    for lq, gt in batches:
        lq, gt = paper(lq).to(dtype), paper(gt).to(dtype)
        lrs.append(lr)
        # srresnet_trainer
        opt_j.zero_grad()
        l_j = torch.mean((joint(lq) - gt) ** 2)
        l_j.backward()
        opt_j.step()
        # srgan_trainer
        sr = net_g(lq)
        f = vgg(torch.cat([sr, gt], 0))[vgg.layer]
        n = f.shape[0] // 2
        l_pix = torch.mean((sr - gt) ** 2)
        l_percep = lam1 * torch.mean((f[:n] - f[n:]) ** 2)
        d = torch.sigmoid(net_d(torch.cat([sr, gt], 0)))
        m = d.shape[0] // 2
        l_adv_g = torch.mean(-torch.log(d[:m] + 1e-8))
        l_adv_d = (torch.mean(-torch.log(d[m:] + 1e-8)) + torch.mean(-torch.log(1 - d[:m] + 1e-8))) / 2
        loss_g = l_pix + l_percep + lam2 * l_adv_g
        opt_g.zero_grad()
        opt_d.zero_grad()
        for p in net_d.fc1.parameters():
            p.grad = None
        loss_g.backward(retain_graph=True)
        l_adv_d.backward()
        opt_g.step()
        opt_d.step()
        losses.append({"pixel": l_pix.item(), "perceptual": l_percep.item(), "adversarial": lam2 * l_adv_g.item(),
                       "discriminator": l_adv_d.item(), "srresnet_mse": l_j.item()})
    return Trajectory(losses, lrs, to_suite_state(net_g), init,
                      {"discriminator": to_suite_state(net_d, d_linear), "srresnet": to_suite_state(joint)},
                      {"discriminator": d_init, "srresnet": init})

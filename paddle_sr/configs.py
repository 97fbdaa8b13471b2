"""Training recipes: one per trainable setup, every number with the paper section it comes from.

A recipe is a ``Recipe`` dataclass; its field types are the types that ``--key=value`` overrides are
checked against (``parse_overrides``, no ``eval``). "Epoch" in the EDSR-PyTorch family of code (EDSR,
RDN, RCAN, RLFN, LIIF) is ``test_every`` = 1000 iterations, so "halve every 200 epochs" is
``milestones`` every 200,000 iterations (``EPOCH`` below). Each paper recipe trains on its paper's
data set at the place ``data_scripts/`` puts it (``DATA`` below: ``--data=div2k:data/DIV2K`` ...) and
refuses to start without it; the embedded photographs (``--data=embedded:train``) stand in only when
asked for. Validation defaults to the two embedded held-out photos (``val_data='embedded:val'``).
"""
import dataclasses
import json
from dataclasses import dataclass, field, fields, replace

from .errors import SRError

EPOCH = 1000  # iterations per "epoch" in EDSR-PyTorch-style code (args.test_every)


def every(step, total):
    """Milestones ``step, 2*step, ...`` below ``total`` (a "halve every N" schedule)."""
    return tuple(range(step, total, step))


@dataclass
class Recipe:
    """Everything a training run needs; ``config.json`` in the run folder is this, resolved."""
    # --- what is trained
    model: str = "rdn"                     # registered model name (paddle_sr.models.names())
    model_kwargs: dict = field(default_factory=dict)  # extra model arguments, JSON on the command line
    scale: int = 4                         # upscaling factor (validation scale for arbitrary-scale models)
    init_from: str = ""                    # .pdparams to start from ('' = random init)
    init_partial: bool = False             # skip keys whose shape differs (x2 -> x3/x4 upsampler)
    # --- data (LR patch side; the HR patch is scale times larger)
    data: str = ""                         # training images: div2k:ROOT | celeba:ROOT | FOLDER | embedded:train
    paper_data: str = ""                   # what the recipe's paper trained on (printed; '' = not a paper recipe)
    lr_data: str = ""                      # folder of official LR images ('' = MATLAB bicubic on the fly)
    val_data: tuple = ("embedded:val",)    # one or more sets; PSNR/SSIM logged per set
    val_max_size: int = 0                  # centre-crop validation HR to this side (0 = whole image)
    val_gray: str = "matlab"               # gray validation files scored as: matlab (gray values) | basicsr
    patch_size: int = 48                   # LR patch side in pixels (LIIF: inp_size)
    batch_size: int = 16                   # patches per iteration (all GPUs together)
    augment: bool = True                   # 8-way flips/rotations
    num_workers: int = 0                   # data-loading worker processes (0 = in the main process)
    # --- optimisation: Adam or SGD with a step schedule, stepped every iteration
    iterations: int = 300 * EPOCH          # total training iterations (one Adam/SGD step each)
    optimizer: str = "adam"                # adam | sgd (SGD with momentum, paddle.optimizer.Momentum)
    lr: float = 1e-4                       # initial learning rate
    beta1: float = 0.9                     # Adam beta1
    beta2: float = 0.999                   # Adam beta2
    adam_eps: float = 1e-8                 # Adam epsilon
    momentum: float = 0.9                  # sgd only
    weight_decay: float = 0.0              # L2 penalty added to the gradient (Caffe / MatConvNet / torch.optim)
    milestones: tuple = ()                 # iterations at which the lr is multiplied by gamma, comma-separated
    gamma: float = 0.5                     # lr factor at each milestone
    lr_min: float = 0.0                    # floor of the step schedule (LapSRN's lr_min; 0 = none)
    grad_clip: float = 0.0                 # global-norm clip (0 = off)
    ema: float = 0.0                       # EMA decay of the weights, e.g. 0.999 (0 = off)
    # --- losses
    pixel_loss: str = "l1"                 # l1 | mse | charbonnier | euclidean (MSE / 2, Caffe EuclideanLoss)
    pixel_weight: float = 1.0              # weight of the pixel loss
    y_loss: bool = False                   # pixel loss on BT.601 Y only (Y-channel models)
    loss_reduction: str = "mean"           # mean (per pixel, [-1, 1]) | sum (Caffe/MatConvNet: per sample, [0, 1])
    recursive_alpha_iters: int = 0         # DRCN: recursive-supervision weight 1 -> 0 over N iterations (0 = off)
    perceptual_weight: float = 0.0         # weight of the VGG perceptual loss (0 = off)
    perceptual_layer: str = "conv5_4"      # VGG19 layer of the perceptual loss, e.g. conv5_4
    perceptual_scale: float = 1.0          # multiplies the VGG features before the distance
    perceptual_relu: bool = True           # features after the layer's ReLU (SRGAN); False: before (ESRGAN)
    perceptual_criterion: str = "mse"      # mse (SRGAN) | l1 (ESRGAN)
    vgg_weights: str = ""                  # '' = look in the cache / download
    allow_random_vgg: bool = False         # tests only: a perceptual loss on random features is meaningless
    adversarial_weight: float = 0.0        # weight of the generator's adversarial loss (0 = no discriminator)
    gan_type: str = "bce"                  # bce (SRGAN) | ragan (ESRGAN)
    discriminator: str = "srgan"           # srgan | vgg_style (ESRGAN; HR patch 128 or 256)
    d_lr: float = 1e-4                     # discriminator learning rate
    joint_srresnet: bool = False           # the SRGAN notebook's side-by-side SRResNet (MSE) from the same init
    contrastive_weight: float = 0.0        # weight of RLFN's contrastive loss (0 = off)
    stage: int = 0                         # RLFN warm-start stage (1-based; 0 = single stage)
    # --- LIIF sampling (patch_size is inp_size)
    scale_min: float = 1.0                 # LIIF: smallest training scale
    scale_max: float = 4.0                 # LIIF: largest training scale
    sample_q: int = 2304                   # LIIF: HR pixels queried per training image
    # --- bookkeeping
    val_every: int = 5000                  # validate + write Model/Best/state every N iterations
    save_every: int = 1000                 # write Model/state every N iterations, between validations (0 = off)
    save_minutes: float = 10.0             # ... and whenever this many minutes passed since the last write (0 = off)
    log_every: int = 100                   # log training losses to VisualDL every N iterations
    sample_images: int = 2                 # validation SR images logged to VisualDL
    seed: int = 0                          # seed of the weights' init and of the batches
    device: str = "auto"                   # auto | cpu | gpu | gpu:N
    amp: bool = False                      # float16 autocast + GradScaler (GPU only)
    run: str = ""                          # run folder name ('' = <recipe>_x<scale>[_stage<k>])
    output: str = "output"                 # folder that holds the run folders
    max_minutes: float = 0.0               # wall-clock budget of this invocation (0 = none); ends with validation
    stop_after: int = 0                    # stop (and save) after this many iterations of this invocation
    compare_png: bool = False              # write a show_image comparison PNG at the end
    progress: bool = True                  # tqdm progress bar


BASE = Recipe()

# ---------------------------------------------------------------------------------------------------
# RDN (Zhang et al., CVPR 2018, arXiv:1802.08797), config B (D=16, C=8, G=64, G0=64, Sec. 5.1).
# Sec. 5.2: 16 LR patches of 32x32 per batch, Adam (beta1 0.9, beta2 0.999, eps 1e-8), lr 1e-4 halved
# every 200 epochs, L1 loss. The paper gives no total length; 300 epochs is the default of
# EDSR-PyTorch, the code base of the authors' PyTorch release. The notebook used LR patch 48 at x4:
# --patch_size=48.
RDN = replace(BASE, model="rdn", scale=4, patch_size=32, batch_size=16, lr=1e-4,
              iterations=300 * EPOCH, milestones=every(200 * EPOCH, 300 * EPOCH), gamma=0.5, pixel_loss="l1")

# EDSR (Lim et al., CVPRW 2017, arXiv:1707.02921) Sec. 4.2: 48x48 LR patches, batch 16, Adam
# (0.9, 0.999, 1e-8), lr 1e-4 halved every 2x10^5 updates, L1 (Sec. 3.3); EDSR-PyTorch 300 epochs.
# x3/x4 start from the trained x2 model (Sec. 3.2 / 4.2):
#   --init_from=output/edsr_x2/Best.pdparams --init_partial=true
EDSR = replace(BASE, model="edsr", scale=4, patch_size=48, batch_size=16, lr=1e-4, iterations=300 * EPOCH,
               milestones=every(200 * EPOCH, 300 * EPOCH), gamma=0.5, pixel_loss="l1")
EDSR_BASELINE = replace(EDSR, model="edsr_baseline")

# RCAN (Zhang et al., ECCV 2018, arXiv:1807.02758) Sec. 4.1: 16 LR patches of 48x48, Adam
# (0.9, 0.999, 1e-8), lr 1e-4 halved every 2x10^5 iterations, L1. The RCAN code trains 1000 epochs
# (seed notes: "1000 epochs reproduce the paper"); x3/x4 from the x2 model via --pre_train, as EDSR.
RCAN = replace(BASE, model="rcan", scale=4, patch_size=48, batch_size=16, lr=1e-4, iterations=1000 * EPOCH,
               milestones=every(200 * EPOCH, 1000 * EPOCH), gamma=0.5, pixel_loss="l1")

# SRResNet / SRGAN (Ledig et al., CVPR 2017, arXiv:1609.04802), x4 only. Sec. 3.2: 16 random 96x96 HR
# crops (LR 24x24) per batch, Adam beta1 0.9; SRResNet: MSE, lr 1e-4, 10^6 iterations. SRGAN: initialised
# from SRResNet, 10^5 iterations at 1e-4 then 10^5 at 1e-5, G and D updated alternately (k = 1).
# Loss (Eq. 3, SRGAN-VGG54): l_VGG/5.4 + 1e-3 l_Gen, with the VGG features rescaled by 1/12.75 (Sec. 3.2);
# SRGAN-VGG54 has no pixel MSE term. The paper trained on 350k ImageNet images.
SRRESNET = replace(BASE, model="srresnet", scale=4, patch_size=24, batch_size=16, lr=1e-4, iterations=1000 * EPOCH,
                   milestones=(), pixel_loss="mse")
SRGAN = replace(SRRESNET, iterations=200 * EPOCH, milestones=(100 * EPOCH,), gamma=0.1, lr=1e-4, d_lr=1e-4,
                init_from="output/srresnet_x4/Best.pdparams",
                pixel_weight=0.0, perceptual_weight=1.0, perceptual_layer="conv5_4", perceptual_scale=1 / 12.75,
                adversarial_weight=1e-3, gan_type="bce")
# The SRGAN notebook (seed 001): CelebA, 44x44 LR patches, batch 16, Adam 1e-4 beta1 0.9 for G and D,
# G loss = MSE + 1e-2 VGG54 (not rescaled) + 1e-2 adversarial, trained jointly with an SRResNet (MSE)
# from the same random init; its generator used ReLU in place of PReLU (act='relu'). Its data:
# --data=celeba:ROOT.
SRGAN_NOTEBOOK = replace(SRGAN, model_kwargs=dict(act="relu"), patch_size=44, init_from="", pixel_weight=1.0,
                         perceptual_weight=1e-2, perceptual_scale=1.0, adversarial_weight=1e-2, joint_srresnet=True,
                         milestones=(), iterations=1000 * EPOCH)

# RLFN (Kong et al., CVPRW 2022, arXiv:2205.07514) Sec. 4.1, multi-stage warm start (Sec. 3.4): every
# stage starts from the previous stage's Best.pdparams. Stage 1 from scratch: HR 256x256 (LR 64 at x4),
# batch 64, Adam, lr 5e-4 halved every 200 epochs, 1000 epochs, L1. Stage 2: same settings, warm
# started, with the contrastive loss (Sec. 3.3) added. Stage 3: fine-tune on HR 640x640 (LR 160) at
# lr 2e-5 with MSE. The official repository withholds its training code (bytedance/RLFN issue #5).
# CAVEAT: the stage values are our reading of Sec. 4.1 and could not be re-checked against the paper
# text while writing this; the contrastive weight (the paper's lambda) is our choice (1.0). A stage
# can be repeated ("the process repeats") with --run=NAME --init_from=<previous Best.pdparams>.
RLFN_STAGES = (
    dict(patch_size=64, batch_size=64, lr=5e-4, iterations=1000 * EPOCH, milestones=every(200 * EPOCH, 1000 * EPOCH),
         gamma=0.5, pixel_loss="l1", contrastive_weight=0.0),
    dict(patch_size=64, batch_size=64, lr=5e-4, iterations=1000 * EPOCH, milestones=every(200 * EPOCH, 1000 * EPOCH),
         gamma=0.5, pixel_loss="l1", contrastive_weight=1.0),
    dict(patch_size=160, batch_size=64, lr=2e-5, iterations=1000 * EPOCH, milestones=every(200 * EPOCH, 1000 * EPOCH),
         gamma=0.5, pixel_loss="mse", contrastive_weight=0.0),
)
RLFN = replace(BASE, model="rlfn", scale=4, stage=1, **RLFN_STAGES[0])
RLFN_S = replace(RLFN, model="rlfn_s")
RLFN_NTIRE = replace(RLFN, model="rlfn_ntire")

# LIIF (Chen et al., CVPR 2021, arXiv:2012.09161) Sec. 4.1 / official train_rdn-liif.yaml: 48x48 LR
# inputs, scale ~ U(1, 4), 2304 sampled query pixels, batch 16, Adam lr 1e-4, 1000 epochs halved every
# 200 (an epoch = 800 DIV2K images x 20 repeats / 16 = 1000 iterations), L1. Encoder: --model=liif (RDN)
# or --model=liif_edsr_baseline. ``scale`` is the validation scale.
LIIF = replace(BASE, model="liif", scale=4, patch_size=48, batch_size=16, lr=1e-4,
               iterations=1000 * EPOCH, milestones=every(200 * EPOCH, 1000 * EPOCH), gamma=0.5, pixel_loss="l1",
               scale_min=1.0, scale_max=4.0, sample_q=2304)

# The demo (`make demo`): a small RDN (G0=16, D=4, C=3, G=16; ~0.08 M parameters) at x2 on the embedded
# photos, sized to beat bicubic within a few minutes on a 2-core CPU. A higher lr than the paper's
# (small nets tolerate it and there are few steps) with two decays; small patches keep a step cheap.
# max_minutes is a safety net for slow machines: training stops, then validation and Best still run.
DEMO = replace(BASE, model="rdn", scale=2,
               model_kwargs=dict(num_features=16, num_blocks=4, num_layers=3, growth_rate=16),
               patch_size=24, batch_size=16, lr=2e-3, iterations=1500, milestones=(1000, 1300), gamma=0.3,
               pixel_loss="l1", val_every=500, log_every=50, max_minutes=7.0, compare_png=True)

# ---------------------------------------------------------------------------------------------------
# The survey's model zoo (issue 8). Numbers marked UNVERIFIED come from the porting helpers' memory of
# the paper and could not be re-checked against its text; the others cite the section / file read.
# Y-channel models (SRCNN, ESPCN, VDSR, DRCN, DRRN, LapSRN) train on luma: ``y_loss``. The Caffe /
# MatConvNet ones use that framework's loss scale (``loss_reduction='sum'``: summed per sample on
# [0, 1], Caffe EuclideanLoss = sum / 2N), which their SGD learning rates and clip thresholds assume.
# Their data: 91 images / 291 images (T91 + BSD200) as the papers, e.g. --data=PATH/T91; the epoch
# lengths of those papers are not iteration counts, so an "epoch" below is EPOCH iterations.

# SRCNN 9-5-5 (Dong et al., TPAMI 2016, arXiv:1501.00092), x3, Y channel. Sec. 4.1: 33x33 HR
# sub-images (LR 11 at x3); learning rate 1e-4 for the first two layers and 1e-5 for the last (the
# model's ParamAttr multiplier 0.1); Sec. 3.3: SGD with the update Delta = 0.9 Delta - eta dL/dW
# (momentum 0.9; UNVERIFIED — the porting helper proposed 0). Loss: MSE (Sec. 3.3), in the Caffe code an
# EuclideanLoss (sum / 2N). Batch 128 (Caffe prototxt) and 8e8 backprops = 6.25M iterations: UNVERIFIED.
SRCNN = replace(BASE, model="srcnn", scale=3, patch_size=11, batch_size=128, optimizer="sgd", momentum=0.9,
                lr=1e-4, iterations=6_250_000, milestones=(), pixel_loss="euclidean", loss_reduction="sum",
                y_loss=True)

# ESPCN (Shi et al., CVPR 2016, arXiv:1609.05158), x3, Y channel. Sec. 3.2: HR sub-images of 17r
# (LR 17), MSE (Eq. 4, a per-pixel mean), lr 0.01 decreasing to 1e-4 when the cost stops improving —
# approximated by /10 steps. The optimizer and batch size are not stated (SGD, 16: our choice);
# UNVERIFIED in full.
ESPCN = replace(BASE, model="espcn", scale=3, patch_size=17, batch_size=16, optimizer="sgd", momentum=0.9,
                lr=1e-2, iterations=300 * EPOCH, milestones=every(100 * EPOCH, 300 * EPOCH), gamma=0.1,
                pixel_loss="mse", y_loss=True)

# VDSR (Kim et al., CVPR 2016, arXiv:1511.04587), Y channel. Sec. 4.1 (UNVERIFIED): 41x41 HR patches
# (LR 10 at x4), batch 64, SGD momentum 0.9, weight decay 1e-4, lr 0.1 divided by 10 every 20 epochs,
# 80 epochs; loss 1/2 ||r - f(x)||^2 (Sec. 3.1, Euclidean, MatConvNet sum). Its adjustable gradient
# clipping (each gradient to [-theta/lr, theta/lr]) is approximated by the global-norm clip 0.4 of the
# PyTorch port twtygqyy/pytorch-vdsr. The paper trains one model on x2, x3 and x4 together; this
# recipe trains one scale (--scale).
VDSR = replace(BASE, model="vdsr", scale=4, patch_size=10, batch_size=64, optimizer="sgd", momentum=0.9,
               weight_decay=1e-4, lr=0.1, iterations=80 * EPOCH, milestones=every(20 * EPOCH, 80 * EPOCH),
               gamma=0.1, grad_clip=0.4, pixel_loss="euclidean", loss_reduction="sum", y_loss=True)

# DRCN (Kim et al., CVPR 2016, arXiv:1511.04491), x2, Y channel. Sec. 3.3: recursive supervision
# L = alpha/(2DN) sum_d ||y - y_d||^2 + (1 - alpha)/(2N) ||y - y_hat||^2 + beta ||W||^2 — the
# 'euclidean' loss with 'sum' reduction, alpha from 1 to 0 (here linearly over the whole run: the
# schedule of the decay is UNVERIFIED), beta = weight_decay. Sec. 4.2 (UNVERIFIED): 41x41 patches
# (LR 20 at x2), batch 64, SGD momentum 0.9, weight decay 1e-4, lr 0.01 divided by 10 when the
# validation error plateaus (here every 25 epochs).
DRCN = replace(BASE, model="drcn", scale=2, patch_size=20, batch_size=64, optimizer="sgd", momentum=0.9,
               weight_decay=1e-4, lr=0.01, iterations=100 * EPOCH, milestones=every(25 * EPOCH, 100 * EPOCH),
               gamma=0.1, pixel_loss="euclidean", loss_reduction="sum", y_loss=True,
               recursive_alpha_iters=100 * EPOCH)

# DRRN B1U25 (Tai et al., CVPR 2017), x4, Y channel. Official Caffe solver / prototxt
# (tyshiwo/DRRN_CVPR17, as read by the porting helper): 31x31 patches (LR 8 at x4), batch 128, SGD lr 0.1
# momentum 0.9 weight decay 1e-4, lr halved every 65,360 iterations, clip_gradients 0.01 (Caffe: a
# global-norm clip), EuclideanLoss; the released model is the 660,136-iteration snapshot.
DRRN = replace(BASE, model="drrn", scale=4, patch_size=8, batch_size=128, optimizer="sgd", momentum=0.9,
               weight_decay=1e-4, lr=0.1, iterations=660_136, milestones=every(65_360, 660_136), gamma=0.5,
               grad_clip=0.01, pixel_loss="euclidean", loss_reduction="sum", y_loss=True)

# LapSRN (Lai et al., CVPR 2017, arXiv:1704.03915), x4, Y channel, official phoenix104104/LapSRN
# ``init_LapSRN_opts.m`` (read): HR patches 128 (LR 32 at x4), batch 64, lr 1e-5 halved every 50
# epochs down to lr_min 1e-6, 1000 epochs of 100 batches (= 100,000 iterations), weight decay 1e-4,
# MatConvNet SGD (momentum 0.9, its default); loss (``vllab_nn_L1_loss.m``) Charbonnier
# sqrt(d^2 + 1e-6) summed over pixels at EVERY level (weight 1 each), targets ``imresize(HR, 1/2^k)``
# (``getBatch_LapSRN.m``) — ``losses.pyramid_targets``. Not reproduced: its random 0.5-1.0 rescaling
# of the training images; MatConvNet's 0.1x bias learning rate.
LAPSRN = replace(BASE, model="lapsrn", scale=4, patch_size=32, batch_size=64, optimizer="sgd", momentum=0.9,
                 weight_decay=1e-4, lr=1e-5, lr_min=1e-6, iterations=100_000, milestones=every(5_000, 100_000),
                 gamma=0.5, pixel_loss="charbonnier", loss_reduction="sum", y_loss=True)

# ESRGAN (Wang et al., ECCVW 2018, arXiv:1809.00219), x4, two stages. Stage 1, PSNR-oriented RRDBNet
# (Sec. 4.1): HR 128 (LR 32), batch 16, Adam (0.9, 0.999), lr 2e-4 halved every 2e5 updates, L1; the
# paper gives no length — BasicSR ``train_RRDBNet_PSNR_x4.yml`` runs 1,000k. Data DIV2K (+Flickr2K, OST).
ESRGAN_PSNR = replace(BASE, model="esrgan", scale=4, patch_size=32, batch_size=16, lr=2e-4,
                      iterations=1000 * EPOCH, milestones=every(200 * EPOCH, 1000 * EPOCH), gamma=0.5,
                      pixel_loss="l1")
# Stage 2 (Sec. 3.2-3.4, 4.1; BasicSR ``train_ESRGAN_x4.yml``, read): from the stage-1 model,
# L_G = L_percep + 5e-3 L_G^Ra + 1e-2 L1, the perceptual term the L1 distance of VGG19 conv5_4 features
# BEFORE the activation (weight 1), relativistic average GAN with the VGG-style discriminator on the
# 128x128 HR patch; G and D lr 1e-4 halved at 50k/100k/200k/300k, 400k iterations, D updated once per
# G step. BasicSR also keeps an EMA of G (0.999: --ema=0.999) and uses Adam beta2 0.99; the paper 0.999.
ESRGAN = replace(ESRGAN_PSNR, lr=1e-4, d_lr=1e-4, iterations=400 * EPOCH,
                 milestones=(50 * EPOCH, 100 * EPOCH, 200 * EPOCH, 300 * EPOCH), gamma=0.5,
                 init_from="output/esrgan_psnr_x4/Best.pdparams", pixel_loss="l1", pixel_weight=1e-2,
                 perceptual_weight=1.0, perceptual_layer="conv5_4", perceptual_scale=1.0, perceptual_relu=False,
                 perceptual_criterion="l1", adversarial_weight=5e-3, gan_type="ragan", discriminator="vgg_style")

# WDSR-A / WDSR-B baselines (Yu et al., arXiv:1808.08718), x2. The official README: trained in
# EDSR-PyTorch "identical to EDSR baseline model settings" — 16 LR patches of 48x48, Adam, L1, 300
# epochs halved every 200; lr 1e-3 (weight normalisation allows a 10x larger rate; Sec. 4 / official
# issue #31, as read by the porting helper).
WDSR_A = replace(BASE, model="wdsr_a", scale=2, patch_size=48, batch_size=16, lr=1e-3, iterations=300 * EPOCH,
                 milestones=every(200 * EPOCH, 300 * EPOCH), gamma=0.5, pixel_loss="l1")
WDSR_B = replace(WDSR_A, model="wdsr_b")

# SwinIR classical SR (Liang et al., ICCVW 2021, arXiv:2108.10257), x2, KAIR
# ``train_swinir_sr_classical.json`` (read): H_size 96 (LR 48; 64 with DF2K), batch 32, Adam lr 2e-4,
# milestones 250k/400k/450k/475k (gamma 0.5), 500k iterations, L1. KAIR also keeps an EMA (E_decay
# 0.999: --ema=0.999) and fine-tunes x3/x4/x8 from the x2 model with lr and milestones halved:
#   --init_from=output/swinir_x2/Best.pdparams --init_partial=true --lr=1e-4 --milestones=125000,...
SWINIR = replace(BASE, model="swinir", scale=2, patch_size=48, batch_size=32, lr=2e-4, iterations=500 * EPOCH,
                 milestones=(250 * EPOCH, 400 * EPOCH, 450 * EPOCH, 475 * EPOCH), gamma=0.5, pixel_loss="l1")
# Lightweight SwinIR, KAIR ``train_swinir_sr_lightweight.json`` (read): H_size 128 (LR 64 at x2), batch 64,
# otherwise as the classical recipe.
SWINIR_LIGHT = replace(SWINIR, model="swinir_light", patch_size=64, batch_size=64)

# SAN (Dai et al., CVPR 2019), x4. Sec. 4.1 (UNVERIFIED): 8 LR patches of 48x48, Adam (0.9, 0.99, 1e-8),
# lr 1e-4 halved every 200 epochs, L1; 1000 epochs as RCAN, whose code it is built on.
SAN = replace(BASE, model="san", scale=4, patch_size=48, batch_size=8, lr=1e-4, beta2=0.99, iterations=1000 * EPOCH,
              milestones=every(200 * EPOCH, 1000 * EPOCH), gamma=0.5, pixel_loss="l1")

# IGNN (Zhou et al., NeurIPS 2020, arXiv:2006.16673). Graph embedding: ImageNet VGG19 conv1_1-conv1_2,
# frozen (supplementary Sec. A.1) -> vgg_weights='imagenet' (cache/download; offline pass
# --model_kwargs='{"vgg_weights": "PATH"}'). Training settings from the official config.py (the paper
# text gives none): DIV2K 480x480 sub-images, HR crops 160 (x2, x4) / 198 (x3) = LR patch 80 / 66 / 40,
# batch 2, Adam (0.9, 0.999) lr 1e-4, 80 "epochs" x 10,000 iterations, lr halved at epochs 16/32/48/64 -
# effectively one epoch early (150k/310k/470k/630k) because the official train.py steps the scheduler
# before the epoch - L1 loss, flips + rot90, Kaiming-normal x 0.1 init (in the model). Not reproduced:
# RandomColorChannel (RGB permutation, p = 0.2). x2: --scale=2 --patch_size=80; x3: --scale=3 --patch_size=66.
IGNN = replace(BASE, model="ignn", scale=4, model_kwargs=dict(vgg_weights="imagenet"), patch_size=40,
               batch_size=2, lr=1e-4, beta1=0.9, beta2=0.999, iterations=800_000,
               milestones=(150_000, 310_000, 470_000, 630_000), gamma=0.5, pixel_loss="l1")

# IMDN (Hui et al., ACM MM 2019, arXiv:1909.11856), x2, official ``train_IMDN.py`` defaults and
# ``data/DIV2K.py`` / ``data/common.py`` (read): HR patch 192 (``--patch_size`` is the output patch:
# LR 96 at x2; x3: --scale=3 --patch_size=64, x4: --scale=4 --patch_size=48), batch 16, Adam lr 2e-4
# (torch defaults 0.9 / 0.999 / 1e-8), L1, 8-way flips/transposes, 1000 epochs of 1000 iterations
# (test_every 1000: 800 images x 20 repeats / 16), lr x0.5 at ``epoch // 200`` with epochs counted from
# 1 - so one epoch early: 199k, 399k, ... as ``utils.adjust_learning_rate`` does. Inputs on [0, 1].
IMDN = replace(BASE, model="imdn", scale=2, patch_size=96, batch_size=16, lr=2e-4, iterations=1000 * EPOCH,
               milestones=tuple(k * 200 * EPOCH - EPOCH for k in range(1, 6)), gamma=0.5, pixel_loss="l1")

# CARN / CARN-M (Ahn et al., ECCV 2018, arXiv:1803.08664), official README training command and
# ``carn/train.py`` / ``solver.py`` / ``dataset.py`` (read): LR patch 64 (``random_crop`` crops the LR),
# batch 64, Adam lr 1e-4 (torch defaults), lr x0.5 every 400k steps (``--decay 400000``), 600k steps,
# global-norm gradient clip 10 (``clip_grad_norm``), L1, random flips + rot90. Not reproduced: the
# official multi-scale training (``--scale 0``: each batch at a random scale in {2, 3, 4}, one shared
# body, the upsampler of that scale); a run here trains one scale (--scale), whose branch is the only
# trainable upsampler (see models/carn.py). CARN-M is the README's ``--group 4``.
CARN = replace(BASE, model="carn", scale=4, patch_size=64, batch_size=64, lr=1e-4, iterations=600 * EPOCH,
               milestones=(400 * EPOCH,), gamma=0.5, grad_clip=10.0, pixel_loss="l1")
CARN_M = replace(CARN, model="carn_m")

# What each paper trained on, and the default --data: that data set where data_scripts/ fetches it
# (DIV2K, CelebA) at the data_scripts' default place; no default (--data required) where the suite
# cannot fetch it (T91 / 291 images, ImageNet). The embedded photos are only ever used when asked for
# (--data=embedded:train): 11 photos are a demo, not a reproduction.
_DIV2K, _DIV2K_800 = "div2k:data/DIV2K", "DIV2K, 800 training images"
_T91, _291 = "the 91 images of Yang et al. (T91)", "291 images (T91 + 200 from BSD)"
DATA = {
    "rdn": (_DIV2K, _DIV2K_800 + " (Sec. 5.1)"), "edsr": (_DIV2K, _DIV2K_800 + " (Sec. 4.1)"),
    "edsr_baseline": (_DIV2K, _DIV2K_800 + " (Sec. 4.1)"), "rcan": (_DIV2K, _DIV2K_800 + " (Sec. 4.1)"),
    "srresnet": (_DIV2K, "350 thousand ImageNet images (Sec. 3.2); DIV2K is the usual stand-in (BasicSR MSRResNet)"),
    "srgan": (_DIV2K, "350 thousand ImageNet images (Sec. 3.2); DIV2K is the usual stand-in (BasicSR MSRResNet)"),
    "srgan_notebook": ("celeba:data/CelebA", "CelebA img_align_celeba (the SRGAN seed notebook)"),
    "rlfn": (_DIV2K, "DIV2K and Flickr2K (Sec. 4.1; UNVERIFIED)"),
    "rlfn_s": (_DIV2K, "DIV2K and Flickr2K (Sec. 4.1; UNVERIFIED)"),
    "rlfn_ntire": (_DIV2K, "DIV2K and Flickr2K (NTIRE 2022 efficient SR; UNVERIFIED)"),
    "liif": (_DIV2K, _DIV2K_800 + " (Sec. 4.1)"), "demo": ("embedded:train", ""),
    "srcnn": ("", _T91 + " (Sec. 4.1; also 395,909 ImageNet images)"),
    "espcn": ("", "50,000 ImageNet images, or " + _T91 + " (Sec. 3.2)"),
    "vdsr": ("", _291 + " (Sec. 4.1)"), "drcn": ("", _T91 + " (Sec. 4.1)"),
    "drrn": ("", _291 + " (Sec. 4.1)"), "lapsrn": ("", _291 + " (Sec. 4.1)"),
    "esrgan_psnr": (_DIV2K, "DIV2K, Flickr2K and OST (Sec. 4.1)"),
    "esrgan": (_DIV2K, "DIV2K, Flickr2K and OST (Sec. 4.1)"),
    "wdsr_a": (_DIV2K, _DIV2K_800 + " (official README)"), "wdsr_b": (_DIV2K, _DIV2K_800 + " (official README)"),
    "swinir": (_DIV2K, _DIV2K_800 + " (or DF2K; Sec. 4.1)"), "swinir_light": (_DIV2K, _DIV2K_800 + " (Sec. 4.1)"),
    "san": (_DIV2K, _DIV2K_800 + " (Sec. 4.1)"), "ignn": (_DIV2K, _DIV2K_800 + " (official config.py)"),
    "imdn": (_DIV2K, _DIV2K_800 + " (official train_IMDN.py --n_train 800)"),
    "carn": (_DIV2K, _DIV2K_800 + " (official README; div2h5.py packs DIV2K_train_HR)"),
    "carn_m": (_DIV2K, _DIV2K_800 + " (official README; div2h5.py packs DIV2K_train_HR)"),
}

RECIPES = {
    "rdn": RDN, "edsr": EDSR, "edsr_baseline": EDSR_BASELINE, "rcan": RCAN,
    "srresnet": SRRESNET, "srgan": SRGAN, "srgan_notebook": SRGAN_NOTEBOOK,
    "rlfn": RLFN, "rlfn_s": RLFN_S, "rlfn_ntire": RLFN_NTIRE,
    "liif": LIIF, "demo": DEMO,
    # the survey's zoo (issue 8)
    "srcnn": SRCNN, "espcn": ESPCN, "vdsr": VDSR, "drcn": DRCN, "drrn": DRRN, "lapsrn": LAPSRN,
    "esrgan_psnr": ESRGAN_PSNR, "esrgan": ESRGAN, "wdsr_a": WDSR_A, "wdsr_b": WDSR_B,
    "swinir": SWINIR, "swinir_light": SWINIR_LIGHT, "san": SAN,
    "ignn": IGNN,
    # the RLFN paper's efficient-SR comparison (issue 12)
    "imdn": IMDN, "carn": CARN, "carn_m": CARN_M,
}
# Papers that score a grayscale test file (Set14 bridge) the BasicSR way (Y of the replicated RGB): the
# suite's reproductions of their official weights match their tables only so (README, reproduce).
BASICSR_GRAY = ("rlfn", "rlfn_s", "rlfn_ntire", "imdn", "carn", "carn_m")
RECIPES = {name: replace(r, data=DATA[name][0], paper_data=DATA[name][1],
                         val_gray="basicsr" if r.model in BASICSR_GRAY else "matlab") for name, r in RECIPES.items()}
STAGES = {"rlfn": RLFN_STAGES, "rlfn_s": RLFN_STAGES, "rlfn_ntire": RLFN_STAGES}
FIELD_TYPES = {f.name: f.type for f in fields(Recipe)}
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _scalar(text, typ):
    if typ is bool:
        if text.lower() in TRUE:
            return True
        if text.lower() in FALSE:
            return False
        raise ValueError
    if typ is int:
        return int(text)
    if typ is float:
        return float(text)
    return text


def parse_value(key, text, default=None):
    """Parse ``--key=text`` to the type of ``Recipe.key``; SRError naming the key and type otherwise."""
    if key not in FIELD_TYPES:
        raise SRError(f"unknown option --{key}; known options: {', '.join(sorted(FIELD_TYPES))}")
    typ = FIELD_TYPES[key]
    try:
        if typ is dict:
            value = json.loads(text)
            if not isinstance(value, dict):
                raise ValueError
            return value
        if typ is tuple:
            items = [t.strip() for t in text.split(",") if t.strip()]
            kinds = {type(v) for v in (default or ())}
            elem = kinds.pop() if len(kinds) == 1 else None
            if elem is not None:
                return tuple(_scalar(t, elem) for t in items)
            out = []
            for t in items:  # no default to copy from: int, else float, else text
                for kind in (int, float, str):
                    try:
                        out.append(_scalar(t, kind))
                        break
                    except ValueError:
                        continue
            return tuple(out)
        return _scalar(text, typ)
    except (ValueError, json.JSONDecodeError):
        hint = {dict: 'a JSON object, e.g. \'{"num_features": 16}\'', tuple: "comma-separated values, e.g. 2,4",
                bool: "true or false", int: "an integer", float: "a number", str: "text"}[typ]
        raise SRError(f"--{key}={text!r} is not {hint} (the type of {key!r} is {typ.__name__})") from None


def parse_overrides(args):
    """['--key=value', ...] -> {key: text}; SRError for anything else."""
    out = {}
    for a in args:
        if not a.startswith("--") or "=" not in a:
            raise SRError(f"cannot read argument {a!r}: write options as --key=value "
                          f"(see `python -m paddle_sr.train --help`)")
        key, text = a[2:].split("=", 1)
        key = key.replace("-", "_")
        parse_value(key, text)  # fail early on unknown keys
        out[key] = text
    return out


def resolve(name, overrides=None):
    """The recipe ``name`` with its stage defaults and the ``{key: text}`` overrides applied, checked."""
    if name not in RECIPES:
        raise SRError(f"unknown recipe {name!r}; known recipes: {', '.join(RECIPES)}")
    base = RECIPES[name]
    overrides = dict(overrides or {})
    values = {k: parse_value(k, v, getattr(base, k)) for k, v in overrides.items()}
    stage = values.get("stage", base.stage)
    if name in STAGES:
        stages = STAGES[name]
        if not 1 <= stage <= len(stages):
            raise SRError(f"recipe {name!r} has stages 1-{len(stages)}; got --stage={stage}")
        base = replace(base, stage=stage, **stages[stage - 1])
        if stage > 1:  # warm start from the previous stage's best weights (RLFN Sec. 3.4)
            scale, output = values.get("scale", base.scale), values.get("output", base.output)
            base = replace(base, init_from=f"{output}/{name}_x{scale}_stage{stage - 1}/Best.pdparams")
    elif stage:
        raise SRError(f"recipe {name!r} has no stages; drop --stage (stages: {', '.join(STAGES)})")
    cfg = replace(base, **values)
    if not cfg.run:
        cfg = replace(cfg, run=f"{name}_x{cfg.scale}" + (f"_stage{cfg.stage}" if cfg.stage else ""))
    check(cfg)
    return cfg


def check(cfg):
    """SRError for values that cannot work, before anything is built."""
    positive = ("iterations", "batch_size", "patch_size", "val_every", "log_every")
    for key in positive:
        if getattr(cfg, key) < 1:
            raise SRError(f"--{key} must be >= 1, got {getattr(cfg, key)}")
    if cfg.lr <= 0:
        raise SRError(f"--lr must be > 0, got {cfg.lr}")
    if not 0 <= cfg.ema < 1:
        raise SRError(f"--ema is a decay in [0, 1) (0 = off), got {cfg.ema}")
    if min(cfg.grad_clip, cfg.max_minutes, cfg.stop_after, cfg.save_every, cfg.save_minutes) < 0:
        raise SRError("--grad_clip, --max_minutes, --stop_after, --save_every and --save_minutes must be >= 0 (0 = off)")
    if "/" in cfg.run or cfg.run in (".", ".."):
        raise SRError(f"--run is a folder name inside --output, got {cfg.run!r}")
    if not cfg.val_data:
        raise SRError("--val_data needs at least one validation set")
    choices = {"val_gray": ("matlab", "basicsr"), "optimizer": ("adam", "sgd"), "loss_reduction": ("mean", "sum"),
               "discriminator": ("srgan", "vgg_style"),
               "perceptual_criterion": ("mse", "l1")}
    for key, allowed in choices.items():
        if getattr(cfg, key) not in allowed:
            raise SRError(f"--{key}={getattr(cfg, key)!r} is not one of {', '.join(allowed)}")
    if not 0 <= cfg.momentum < 1 or cfg.weight_decay < 0 or cfg.lr_min < 0 or cfg.recursive_alpha_iters < 0:
        raise SRError("--momentum must be in [0, 1); --weight_decay, --lr_min and --recursive_alpha_iters >= 0")


def to_json(cfg):
    return json.dumps(dataclasses.asdict(cfg), indent=2, sort_keys=True)


def option_help():
    """{option: meaning}, read from the comments beside ``Recipe``'s fields (the one place they are written)."""
    import inspect
    import re

    out = {}
    for line in inspect.getsource(Recipe).splitlines():
        m = re.match(r"\s+(\w+): \w+ = .*?#\s*(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def help_text(name=None):
    from .imageio import DEFAULT_MAX_PIXELS

    """``--help``: the recipes, then every option with its value in recipe ``name`` (default: the base)."""
    lines = ["usage: python -m paddle_sr.train RECIPE [--key=value ...]", "", "recipes:"]
    for rname, r in RECIPES.items():
        lines.append(f"  {rname:15s} model={r.model} x{r.scale}, {r.iterations} iterations, batch {r.batch_size}, "
                     f"LR patch {r.patch_size}, {r.optimizer} lr {r.lr:g}, data {r.data or '(required)'}")
    recipe = resolve(name) if name else BASE
    meaning = option_help()
    lines += ["", f"options (type, value in recipe {name!r}):" if name else "options (type, base default; "
              "`python -m paddle_sr.train RECIPE --help` shows a recipe's values):"]
    for f in fields(Recipe):
        value = getattr(recipe, f.name)
        text = ",".join(map(str, value)) if isinstance(value, tuple) else json.dumps(value) if isinstance(
            value, dict) else str(value).lower() if isinstance(value, bool) else value
        lines.append(f"  --{f.name}={text}  ({f.type.__name__}) {meaning.get(f.name, '')}".rstrip())
    lines.append(f"  --max_pixels=N  (int) not part of the recipe: images above N pixels are refused before decoding "
                 f"(default {DEFAULT_MAX_PIXELS}, Pillow's decompression-bomb limit)")
    if name and recipe.paper_data:
        lines += ["", f"The paper trained on {recipe.paper_data}."]
    lines += ["", "Rerunning the same command resumes from output/<run>/state.pdstate; Ctrl-C (or SIGTERM) saves at "
              "the end of the current iteration.",
              "Multi-GPU: python -m paddle.distributed.launch --gpus 0,1 paddle_sr/train.py RECIPE ..."]
    return "\n".join(lines)

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

from paddle_sr.core.errors import SRError

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
    bias_lr_mult: float = 1.0              # lr (and decay) multiplier of every generator bias, replacing the
                                           # model's own (Caffe lr_mult, MatConvNet learningRate; 1 = the model's)
    ema: float = 0.0                       # EMA decay of the weights, e.g. 0.999 (0 = off)
    # --- losses
    pixel_loss: str = "l1"                 # l1 | mse | charbonnier | euclidean (MSE / 2, Caffe EuclideanLoss)
    pixel_weight: float = 1.0              # weight of the pixel loss
    y_loss: bool = False                   # pixel loss on BT.601 Y only (Y-channel models)
    loss_reduction: str = "mean"           # mean (per pixel) | sum (Caffe/MatConvNet: per sample, mean over batch)
                                           # | total (summed over batch too: torch size_average=False)
    loss_range: str = "-1,1"               # pixel loss on the official trainer's range: -1,1 | 0,1 | 0,255
    recursive_alpha_iters: int = 0         # DRCN: recursive-supervision weight 1 -> 0 over N iterations (0 = off)
    perceptual_weight: float = 0.0         # weight of the VGG perceptual loss (0 = off)
    perceptual_layer: str = "conv5_4"      # VGG19 layer of the perceptual loss, e.g. conv5_4
    perceptual_scale: float = 1.0          # multiplies the VGG features before the distance
    perceptual_relu: bool = True           # features after the layer's ReLU (SRGAN); False: before (ESRGAN)
    perceptual_criterion: str = "mse"      # mse (SRGAN) | l1 (ESRGAN)
    vgg_weights: str = ""                  # '' = look in the cache / download
    allow_random_vgg: bool = False         # tests only: a perceptual loss on random features is meaningless
    adversarial_weight: float = 0.0        # weight of the generator's adversarial loss (0 = no discriminator)
    gan_type: str = "bce"                  # vanilla (SRGAN, BasicSR: D loss summed) | bce (notebook: mean) | ragan (ESRGAN)
    discriminator: str = "srgan"           # srgan | vgg_style (ESRGAN; HR patch 128 or 256)
    d_lr: float = 1e-4                     # discriminator learning rate
    joint_srresnet: bool = False           # the SRGAN notebook's side-by-side SRResNet (MSE) from the same init
    contrastive_weight: float = 0.0        # weight of RLFN's contrastive loss (0 = off)
    stage: int = 0                         # RLFN warm-start stage (1-based; 0 = single stage)
    train_mean_shift: bool = False         # train the MeanShift convs (RCAN's official code does; EDSR-PyTorch freezes)
    trainer: str = ""                      # the official training code this recipe follows (repo: file), '' = none
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
# --patch_size=48. EDSR-PyTorch hands RDN (no mean shift) 0-255 images (src/data/common.py np2Tensor,
# rgb_range 255): the network computes on [0, 255] (value_range) and the L1 is taken there (loss_range),
# as tests/test_step_parity_edsr_family.py checks (--model_kwargs replaces the dict: keep
# "value_range": [0, 255] in it). No warm start: RDN's official x3/x4 are trained from
# scratch (its UPNet's last conv changes shape with the scale, which EDSR-PyTorch's --pre_train rejects).
RDN = replace(BASE, model="rdn", scale=4, model_kwargs=dict(value_range=(0, 255)), patch_size=32, batch_size=16,
              lr=1e-4, iterations=300 * EPOCH, milestones=every(200 * EPOCH, 300 * EPOCH), gamma=0.5,
              pixel_loss="l1", loss_range="0,255",
              trainer="sanghyun-son/EDSR-PyTorch: src/trainer.py (RDN is in its model zoo)")

# EDSR (Lim et al., CVPRW 2017, arXiv:1707.02921) Sec. 4.2: 48x48 LR patches, batch 16, Adam
# (0.9, 0.999, 1e-8), lr 1e-4 halved every 2x10^5 updates, L1 (Sec. 3.3); EDSR-PyTorch 300 epochs.
# EDSR-PyTorch src/option.py (--decay 200, --gamma 0.5, --epochs 300, --loss 1*L1, --rgb_range 255) and
# src/utility.py (MultiStepLR stepped after each epoch of test_every 1000 batches): the lr halves from
# iteration 200,001 on (tests/test_step_parity_edsr_family.py, test_the_schedule_...).
# x3/x4 start from the trained x2 model (Sec. 3.2 / 4.2; src/demo.sh --pre_train); opt-in here, as
# option.py's --pre_train default is none:
#   --init_from=output/edsr_x2/Best.pdparams --init_partial=true
# which leaves random exactly what --pre_train (src/model/edsr.py load_state_dict) does: x4 the second x2
# upsampler stage (tail.0.2), x3 the x3 stage (tail.0.0); one difference, a shape mismatch outside the
# upsampler is skipped (and listed) where the official code stops. Kept on purpose: patches are drawn with
# replacement, not in epochs over DIV2K; and old EDSR-PyTorch's skip of exploding batches (see RCAN) is not
# reproduced.
EDSR = replace(BASE, model="edsr", scale=4, patch_size=48, batch_size=16, lr=1e-4, iterations=300 * EPOCH,
               milestones=every(200 * EPOCH, 300 * EPOCH), gamma=0.5, pixel_loss="l1", loss_range="0,255",
               trainer="sanghyun-son/EDSR-PyTorch: src/trainer.py")
EDSR_BASELINE = replace(EDSR, model="edsr_baseline")

# RCAN (Zhang et al., ECCV 2018, arXiv:1807.02758) Sec. 4.1: 16 LR patches of 48x48, Adam
# (0.9, 0.999, 1e-8), lr 1e-4 halved every 2x10^5 iterations, L1. The RCAN code trains 1000 epochs
# (seed notes: "1000 epochs reproduce the paper"); x3/x4 from the x2 model via --pre_train, as EDSR
# (RCAN_TrainCode/code/TrainRCAN_scripts.sh): --init_from=output/rcan_x2/Best.pdparams --init_partial=true
# (the same tensors left random as rcan.py's load_state_dict; opt-in). Official trainer
# (RCAN_TrainCode/code/trainer.py, utility.py, option.py): L1 on [0, 255] (rgb_range 255), mean shifts
# trained (model/common.py), StepLR(lr_decay 200, gamma 0.5) stepped at the start of each epoch, which
# under the authors' PyTorch 0.4.0 halves from iteration 200,001 (under PyTorch >= 1.1 one epoch early).
# Kept on purpose: the trainer skips a batch whose loss is >= skip_threshold (1e6) x the previous epoch's
# mean -- every NaN batch included; here every finite batch is taken and a non-finite loss stops the run
# with an error (tests/test_step_parity_edsr_family.py, test_exploding_batches_...); patches with replacement.
RCAN = replace(BASE, model="rcan", scale=4, patch_size=48, batch_size=16, lr=1e-4, iterations=1000 * EPOCH,
               milestones=every(200 * EPOCH, 1000 * EPOCH), gamma=0.5, pixel_loss="l1", loss_range="0,255",
               train_mean_shift=True, trainer="yulunzhang/RCAN: RCAN_TrainCode/code/trainer.py")

# SRResNet / SRGAN (Ledig et al., CVPR 2017, arXiv:1609.04802), x4 only. Sec. 3.2: 16 random 96x96 HR
# crops (LR 24x24) per batch, Adam beta1 0.9; SRResNet: MSE, lr 1e-4, 10^6 iterations. SRGAN: initialised
# from SRResNet, 10^5 iterations at 1e-4 then 10^5 at 1e-5, G and D updated alternately (k = 1).
# Loss (Eq. 3, SRGAN-VGG54): l_VGG/5.4 + 1e-3 l_Gen, with the VGG features rescaled by 1/12.75 (Sec. 3.2);
# SRGAN-VGG54 has no pixel MSE term. The paper trained on 350k ImageNet images.
# Loss range: Sec. 3.2 "scaled the range of ... the HR images to [-1, 1]. The MSE loss was thus calculated on
# images of intensity range [-1, 1]": loss_range '-1,1' is the paper's (not BasicSR's [0, 1]). The authors
# published no training code; the step followed is BasicSR's (XPixelGroup/BasicSR basicsr/models/sr_model.py /
# srgan_model.py) with the paper's numbers: Adam (0.9, 0.999) (Sec. 3.2 names beta1 only; torch's default
# beta2), D loss BCE(D(HR), 1) + BCE(D(SR), 0) summed ('vanilla', as SRGANModel and the paper's Eq. 2), the
# perceptual term on [-1, 1] images as BasicSR's range_norm=True + use_input_norm (ImageNet mean/std on [0, 1]);
# tests/test_step_parity_basicsr.py. BasicSR's own MSRResNet/MSRGAN (train_MSRResNet_x4.yml: L1, lr 2e-4,
# betas (0.9, 0.99), cosine restarts) is another network (no BatchNorm) and is not this recipe.
SRRESNET = replace(BASE, model="srresnet", scale=4, patch_size=24, batch_size=16, lr=1e-4, iterations=1000 * EPOCH,
                   milestones=(), pixel_loss="mse", loss_range="-1,1",
                   trainer="XPixelGroup/BasicSR: basicsr/models/sr_model.py (SRGAN paper Sec. 3.2 settings)")
SRGAN = replace(SRRESNET, iterations=200 * EPOCH, milestones=(100 * EPOCH,), gamma=0.1, lr=1e-4, d_lr=1e-4,
                init_from="output/srresnet_x4/Best.pdparams",
                pixel_weight=0.0, perceptual_weight=1.0, perceptual_layer="conv5_4", perceptual_scale=1 / 12.75,
                adversarial_weight=1e-3, gan_type="vanilla",
                trainer="XPixelGroup/BasicSR: basicsr/models/srgan_model.py (SRGAN paper Sec. 3.2 settings)")
# The SRGAN notebook (seed 001): CelebA, 44x44 LR patches, batch 16, Adam 1e-4 beta1 0.9 for G and D,
# G loss = MSE + 1e-2 VGG54 (not rescaled) + 1e-2 adversarial, trained jointly with an SRResNet (MSE)
# from the same random init; its generator used ReLU in place of PReLU (act='relu'). Its data:
# --data=celeba:ROOT. Its loop (``srresnet_trainer``, ``srgan_trainer``) is followed with its defects
# corrected, on purpose (tests/test_step_parity_basicsr.py measures both): the notebook backpropagates
# loss_g and loss_d into BOTH networks before stepping them (G also descends -log(1 - D(SR)), i.e. learns to
# be detected; D also descends 1e-2 x -log D(SR)); it runs D once on concat([SR, HR]) (BatchNorm statistics
# over both halves); its VGG sees [-1, 1] without the ImageNet normalisation its weights need; its D never
# trains (nor saves) its first dense layer (two sub-layers named fc1). Here each network descends its own
# loss, D sees HR and SR in separate forwards, the VGG input is normalised, and D's loss is the notebook's
# mean of the two cross-entropies ('bce'). Its SRResNet step has no defect and is the notebook's.
SRGAN_NOTEBOOK = replace(SRGAN, model_kwargs=dict(act="relu"), patch_size=44, init_from="", pixel_weight=1.0,
                         perceptual_weight=1e-2, perceptual_scale=1.0, adversarial_weight=1e-2, joint_srresnet=True,
                         milestones=(), iterations=1000 * EPOCH, gan_type="bce",
                         trainer="the SRGAN seed notebook (001): srresnet_trainer, srgan_trainer (defects corrected)")

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
# or --model=liif_edsr_baseline. ``scale`` is the validation scale. The step is train_liif.py's: L1 on
# inp/gt normalised by data_norm (sub 0.5, div 0.5), i.e. on the suite's own [-1, 1] (loss_range '-1,1');
# Adam(lr=1e-4) with torch's defaults (utils.make_optimizer); MultiStepLR([200, 400, 600, 800], 0.5)
# stepped after each epoch, so epoch 201 = iteration 200,001 is the first at 5e-5 (milestone 200,000 here).
# Kept on purpose: the wrapper's LR is MATLAB bicubic (official: PIL via torchvision's resize), and
# images are drawn with replacement, not in epochs (data.LiifPatchDataset). No warm start (none in the code).
LIIF = replace(BASE, model="liif", scale=4, patch_size=48, batch_size=16, lr=1e-4,
               iterations=1000 * EPOCH, milestones=every(200 * EPOCH, 1000 * EPOCH), gamma=0.5, pixel_loss="l1",
               loss_range="-1,1", scale_min=1.0, scale_max=4.0, sample_q=2304,
               trainer="yinboc/liif: train_liif.py + configs/train-div2k/train_rdn-liif.yaml")

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
# The authors' trainer is Caffe (the SRCNN training code on their project page, not on GitHub and not read
# here); with a fixed lr Caffe's SGD equals Paddle's momentum SGD (tests/test_step_parity_caffe.py). Its
# SRCNN_net.prototxt, as quoted in full by a PyCaffe tutorial (T. Allam, 2016; not the authors' file), gives
# every bias lr_mult 0.1 and conv3's weights 0.1: ``bias_lr_mult`` 0.1 with the model's 0.1 on conv3. Not
# reproduced: that prototxt's unpadded convolutions (the loss on the central 21x21 of a 33x33 sub-image;
# here 'same' padding, the loss on all of it). No step-parity test: no public official training code.
SRCNN = replace(BASE, model="srcnn", scale=3, patch_size=11, batch_size=128, optimizer="sgd", momentum=0.9,
                lr=1e-4, iterations=6_250_000, milestones=(), pixel_loss="euclidean", loss_reduction="sum",
                loss_range="0,1", y_loss=True, bias_lr_mult=0.1)

# ESPCN (Shi et al., CVPR 2016, arXiv:1609.05158), x3, Y channel. Sec. 3.2: HR sub-images of 17r
# (LR 17), MSE (Eq. 4, a per-pixel mean), lr 0.01 decreasing to 1e-4 when the cost stops improving —
# approximated by /10 steps. The optimizer and batch size are not stated (SGD, 16: our choice);
# UNVERIFIED in full.
ESPCN = replace(BASE, model="espcn", scale=3, patch_size=17, batch_size=16, optimizer="sgd", momentum=0.9,
                lr=1e-2, iterations=300 * EPOCH, milestones=every(100 * EPOCH, 300 * EPOCH), gamma=0.1,
                pixel_loss="mse", y_loss=True)

# VDSR (Kim et al., CVPR 2016, arXiv:1511.04587), Y channel. Sec. 4.1 (UNVERIFIED): 41x41 HR patches
# (LR 10 at x4), batch 64, SGD momentum 0.9, weight decay 1e-4, lr 0.1 divided by 10 every 20 epochs,
# 80 epochs; loss 1/2 ||r - f(x)||^2 (Sec. 3.1, Euclidean, MatConvNet sum). The authors' MatConvNet
# training code is not public; the step followed is the PyTorch port twtygqyy/pytorch-vdsr
# ``main_vdsr.py`` run with the paper's numbers (--batchSize 64 --step 20 --nEpochs 80): SGD(momentum
# 0.9, weight_decay 1e-4), ``nn.MSELoss(size_average=False)`` -- summed over the pixels AND the batch,
# on Y in [0, 1] (pixel_loss 'mse', loss_reduction 'total', loss_range '0,1') -- then ``clip_grad_norm``
# 0.4 (global norm; the paper's adjustable clipping, each gradient to [-theta/lr, theta/lr], is not
# what the port does) and torch's weight decay added after the clip; lr 0.1 * 0.1 ** ((epoch - 1) //
# step) set at each epoch's start (first 0.01 iteration: 20 * EPOCH + 1 here). The paper trains one
# model on x2, x3 and x4 together; this recipe trains one scale (--scale). No warm start.
VDSR = replace(BASE, model="vdsr", scale=4, patch_size=10, batch_size=64, optimizer="sgd", momentum=0.9,
               weight_decay=1e-4, lr=0.1, iterations=80 * EPOCH, milestones=every(20 * EPOCH, 80 * EPOCH),
               gamma=0.1, grad_clip=0.4, pixel_loss="mse", loss_reduction="total", loss_range="0,1", y_loss=True,
               trainer="twtygqyy/pytorch-vdsr: main_vdsr.py (the authors' MatConvNet trainer is not public)")

# DRCN (Kim et al., CVPR 2016, arXiv:1511.04491), x2, Y channel. Sec. 3.3: recursive supervision
# L = alpha/(2DN) sum_d ||y - y_d||^2 + (1 - alpha)/(2N) ||y - y_hat||^2 + beta ||W||^2 — the
# 'euclidean' loss with 'sum' reduction, alpha from 1 to 0 (here linearly over the whole run: the
# schedule of the decay is UNVERIFIED), beta = weight_decay. Sec. 4.2 (UNVERIFIED): 41x41 patches
# (LR 20 at x2), batch 64, SGD momentum 0.9, weight decay 1e-4, lr 0.01 divided by 10 when the
# validation error plateaus (here every 25 epochs).
DRCN = replace(BASE, model="drcn", scale=2, patch_size=20, batch_size=64, optimizer="sgd", momentum=0.9,
               weight_decay=1e-4, lr=0.01, iterations=100 * EPOCH, milestones=every(25 * EPOCH, 100 * EPOCH),
               gamma=0.1, pixel_loss="euclidean", loss_reduction="sum", loss_range="0,1", y_loss=True,
               recursive_alpha_iters=100 * EPOCH)

# DRRN B1U25 (Tai et al., CVPR 2017), x4, Y channel. Official Caffe solver / prototxt
# (tyshiwo/DRRN_CVPR17, as read by the porting helper): 31x31 patches (LR 8 at x4), batch 128, SGD lr 0.1
# momentum 0.9 weight decay 1e-4, lr halved every 65,360 iterations, clip_gradients 0.01 (Caffe: a
# global-norm clip), EuclideanLoss; the released model is the 660,136-iteration snapshot. Re-read in
# ``caffe_files/DRRN_B1U25_52C128/DRRN_B1U25_52C128_solver.prototxt`` (base_lr 0.1, momentum 0.9,
# weight_decay 1e-4, lr_policy step, gamma 0.5, stepsize 65360, clip_gradients 0.01) and ``_train.prototxt``
# (HDF5 31x31 Y patches of x2/x3/x4 together, batch 128; conv bias lr_mult 0.1 = the model's ParamAttr).
# Caffe's "step" policy uses the completed-iteration count, so iteration 65,361 is the first at 0.05 (as
# the milestones here). Kept on purpose, pinned in tests/test_step_parity_caffe.py: Caffe's SGD keeps the lr
# inside its momentum history (V = 0.9 V + lr g; w -= V), Paddle's outside (v = 0.9 v + g; w -= lr v):
# identical while the lr is constant; at each halving Caffe's update still carries the old lr's history
# (decaying by 0.9 per step); BN running statistics as models/drrn.py says; one scale per run. No step-
# parity test: the authors' trainer is Caffe (no re-typed reference of its BatchNorm statistics here).
DRRN = replace(BASE, model="drrn", scale=4, patch_size=8, batch_size=128, optimizer="sgd", momentum=0.9,
               weight_decay=1e-4, lr=0.1, iterations=660_136, milestones=every(65_360, 660_136), gamma=0.5,
               grad_clip=0.01, pixel_loss="euclidean", loss_reduction="sum", loss_range="0,1", y_loss=True,
               trainer="tyshiwo/DRRN_CVPR17: caffe_files/DRRN_B1U25_52C128/*_solver.prototxt (Caffe SGDSolver)")

# LapSRN (Lai et al., CVPR 2017, arXiv:1704.03915), x4, Y channel, official phoenix104104/LapSRN
# ``init_LapSRN_opts.m`` (read): HR patches 128 (LR 32 at x4), batch 64, lr 1e-5 halved every 50
# epochs down to lr_min 1e-6, 1000 epochs of 100 batches (= 100,000 iterations), weight decay 1e-4,
# MatConvNet SGD (momentum 0.9, its default); loss (``vllab_nn_L1_loss.m``) Charbonnier
# sqrt(d^2 + 1e-6) summed over pixels at EVERY level (weight 1 each), targets ``imresize(HR, 1/2^k)``
# (``getBatch_LapSRN.m``) — ``losses.pyramid_targets``. The step is ``vllab_cnn_train_dag.m``'s
# ``accumulateGradients`` (MatConvNet's SGD: state = 0.9 state - (der / batch + decay w), w += lr x
# learningRate x state -- the same update as Paddle's / torch's momentum SGD), with the learningRate 0.1
# that ``init_LapSRN_model.m`` gives every bias (``bias_lr_mult``); the lr of epoch e is
# ``learning_rate_policy.m``'s (halved every 50 epochs = 5,000 iterations, floored at 1e-6). Not
# reproduced (kept on purpose): its random 0.5-1.0 rescaling of the training images; patches drawn with
# replacement. No warm start (the x8 model trains from scratch).
LAPSRN = replace(BASE, model="lapsrn", scale=4, patch_size=32, batch_size=64, optimizer="sgd", momentum=0.9,
                 weight_decay=1e-4, lr=1e-5, lr_min=1e-6, iterations=100_000, milestones=every(5_000, 100_000),
                 gamma=0.5, pixel_loss="charbonnier", loss_reduction="sum", loss_range="0,1", y_loss=True,
                 bias_lr_mult=0.1, trainer="phoenix104104/LapSRN: train_LapSRN.m + vllab_cnn_train_dag.m")

# ESRGAN (Wang et al., ECCVW 2018, arXiv:1809.00219), x4, two stages. Stage 1, PSNR-oriented RRDBNet
# (Sec. 4.1): HR 128 (LR 32), batch 16, Adam (0.9, 0.999), lr 2e-4 halved every 2e5 updates, L1; the
# paper gives no length — BasicSR ``train_RRDBNet_PSNR_x4.yml`` runs 1,000k. Data DIV2K (+Flickr2K, OST).
# The step is BasicSR's ``basicsr/models/sr_model.py`` (the ESRGAN authors' code): L1 on [0, 1]
# (loss_range '0,1'), Adam betas (0.9, 0.99) and EMA 0.999 of ``train_RRDBNet_PSNR_x4.yml`` (the paper says
# beta2 0.999; the official trainer's value is used); tests/test_step_parity_basicsr.py. Kept from the paper:
# the step schedule (halved every 2e5); today's yml uses cosine restarts (periods 250k, eta_min 1e-7).
ESRGAN_PSNR = replace(BASE, model="esrgan", scale=4, patch_size=32, batch_size=16, lr=2e-4,
                      iterations=1000 * EPOCH, milestones=every(200 * EPOCH, 1000 * EPOCH), gamma=0.5,
                      pixel_loss="l1", loss_range="0,1", beta2=0.99, ema=0.999,
                      trainer="XPixelGroup/BasicSR: basicsr/models/sr_model.py, options/train/ESRGAN/"
                              "train_RRDBNet_PSNR_x4.yml")
# Stage 2 (Sec. 3.2-3.4, 4.1; BasicSR ``train_ESRGAN_x4.yml``, read): from the stage-1 model,
# L_G = L_percep + 5e-3 L_G^Ra + 1e-2 L1, the perceptual term the L1 distance of VGG19 conv5_4 features
# BEFORE the activation (weight 1), relativistic average GAN with the VGG-style discriminator on the
# 128x128 HR patch; G and D lr 1e-4 halved at 50k/100k/200k/300k, 400k iterations, D updated once per
# G step. BasicSR keeps an EMA of G (ema_decay 0.999) and uses Adam beta2 0.99 (the paper 0.999): both as
# BasicSR. The pixel L1 is on BasicSR's [0, 1] (loss_range '0,1'; on [-1, 1] it would weigh 2e-2 against the
# perceptual and GAN terms). The D step is ``ESRGANModel``'s: each relativistic term's other mean detached
# (``losses.discriminator_step_loss``); tests/test_step_parity_basicsr.py.
ESRGAN = replace(ESRGAN_PSNR, lr=1e-4, d_lr=1e-4, iterations=400 * EPOCH,
                 trainer="XPixelGroup/BasicSR: basicsr/models/esrgan_model.py, options/train/ESRGAN/"
                         "train_ESRGAN_x4.yml",
                 milestones=(50 * EPOCH, 100 * EPOCH, 200 * EPOCH, 300 * EPOCH), gamma=0.5,
                 init_from="output/esrgan_psnr_x4/Best.pdparams", pixel_loss="l1", pixel_weight=1e-2,
                 perceptual_weight=1.0, perceptual_layer="conv5_4", perceptual_scale=1.0, perceptual_relu=False,
                 perceptual_criterion="l1", adversarial_weight=5e-3, gan_type="ragan", discriminator="vgg_style")

# WDSR-A / WDSR-B baselines (Yu et al., arXiv:1808.08718), x2. The official README: trained in
# EDSR-PyTorch "identical to EDSR baseline model settings" — 16 LR patches of 48x48, Adam, L1, 300
# epochs halved every 200; lr 1e-3 (weight normalisation allows a 10x larger rate; Sec. 4 / official
# issue #31, as read by the porting helper).
# The model normalises 0-255 input itself ((x - 255 mean) / 127.5) and EDSR-PyTorch takes the L1 on
# [0, 255] (rgb_range 255): loss_range 0,255. The EDSR-PyTorch of that commit is the 2018 trainer RCAN
# copied (StepLR stepped at each epoch's start, batch skip): tests/reference/rcan_train_torch.py. Weight
# normalisation changes nothing here: Adam updates weight_g / weight_v as torch does (step-parity test).
WDSR_A = replace(BASE, model="wdsr_a", scale=2, patch_size=48, batch_size=16, lr=1e-3, iterations=300 * EPOCH,
                 milestones=every(200 * EPOCH, 300 * EPOCH), gamma=0.5, pixel_loss="l1", loss_range="0,255",
                 trainer="JiahuiYu/wdsr_ntire2018: README (EDSR-PyTorch@95f0571 src/trainer.py)")
WDSR_B = replace(WDSR_A, model="wdsr_b")

# SwinIR classical SR (Liang et al., ICCVW 2021, arXiv:2108.10257), x2, KAIR
# ``train_swinir_sr_classical.json`` (read): H_size 96 (LR 48; 64 with DF2K), batch 32, Adam lr 2e-4,
# milestones 250k/400k/450k/475k (gamma 0.5), 500k iterations, L1. KAIR also keeps an EMA (E_decay
# 0.999: --ema=0.999) and fine-tunes x3/x4/x8 from the x2 model with lr and milestones halved:
#   --init_from=output/swinir_x2/Best.pdparams --init_partial=true --lr=1e-4 --iterations=250000
#   --milestones=124999,199999,224999,237499,249999 (KAIR's halved 125k/200k/225k/237.5k/250k, minus one: below)
# The step is KAIR's (cszn/KAIR models/model_plain.py, main_train_psnr.py): L1 on [0, 1] (loss_range '0,1'),
# Adam betas (0.9, 0.999) (utils/utils_option.py default), EMA E_decay 0.999 (ema=0.999). KAIR calls
# ``scheduler.step(current_step)`` BEFORE step n, so step n runs at the lr of epoch n: the lr halves AT
# iteration 250,000, one step before a scheduler stepped after the update would; the milestones below are
# therefore KAIR's minus one (and its 500,000 milestone halves the very last step);
# tests/test_step_parity_basicsr.py.
SWINIR = replace(BASE, model="swinir", scale=2, patch_size=48, batch_size=32, lr=2e-4, iterations=500 * EPOCH,
                 milestones=tuple(m - 1 for m in (250 * EPOCH, 400 * EPOCH, 450 * EPOCH, 475 * EPOCH, 500 * EPOCH)),
                 gamma=0.5, pixel_loss="l1", loss_range="0,1", ema=0.999,
                 trainer="cszn/KAIR: main_train_psnr.py, models/model_plain.py, "
                         "options/swinir/train_swinir_sr_classical.json")
# Lightweight SwinIR, KAIR ``train_swinir_sr_lightweight.json`` (read): H_size 128 (LR 64 at x2), batch 64,
# otherwise as the classical recipe.
SWINIR_LIGHT = replace(SWINIR, model="swinir_light", patch_size=64, batch_size=64,
                       trainer="cszn/KAIR: main_train_psnr.py, models/model_plain.py, "
                               "options/swinir/train_swinir_sr_lightweight.json")

# SAN (Dai et al., CVPR 2019), x4. Sec. 4.1 (UNVERIFIED): 8 LR patches of 48x48, Adam (0.9, 0.99, 1e-8),
# lr 1e-4 halved every 200 epochs, L1; 1000 epochs as RCAN, whose code it is built on. The official
# daitao/SAN TrainCode is RCAN's trainer (trainer.py, utility.py: StepLR at each epoch's start, batch skip);
# its option.py confirms Adam beta2 0.99 and eps 1e-8 and takes the L1 on [0, 255] (rgb_range 255:
# loss_range 0,255), and its MeanShift (model/common.py, ``self.requires_grad = False`` on the module) trains,
# as RCAN's: train_mean_shift. Its option.py defaults differ from the paper, kept here: batch 16,
# lr x0.6 every 50 epochs, 3000 epochs (TrainSAN_scripts.sh passes none of them).
SAN = replace(BASE, model="san", scale=4, patch_size=48, batch_size=8, lr=1e-4, beta2=0.99, iterations=1000 * EPOCH,
              milestones=every(200 * EPOCH, 1000 * EPOCH), gamma=0.5, pixel_loss="l1", loss_range="0,255",
              train_mean_shift=True, trainer="daitao/SAN: TrainCode/trainer.py")

# IGNN (Zhou et al., NeurIPS 2020, arXiv:2006.16673). Graph embedding: ImageNet VGG19 conv1_1-conv1_2,
# frozen (supplementary Sec. A.1) -> vgg_weights='imagenet' (cache/download; offline pass
# --model_kwargs='{"vgg_weights": "PATH"}'). Training settings from the official config.py (the paper
# text gives none): DIV2K 480x480 sub-images, HR crops 160 (x2, x4) / 198 (x3) = LR patch 80 / 66 / 40,
# batch 2, Adam (0.9, 0.999) lr 1e-4, 80 "epochs" x 10,000 iterations, lr halved at epochs 16/32/48/64 -
# effectively one epoch early (150k/310k/470k/630k) because the official train.py steps the scheduler
# before the epoch - L1 loss, flips + rot90, Kaiming-normal x 0.1 init (in the model). Not reproduced:
# RandomColorChannel (RGB permutation, p = 0.2). x2: --scale=2 --patch_size=80; x3: --scale=3 --patch_size=66.
# The official runner.py leaves Normalize commented out: images, son and L1 (losses/losses.py pixelLoss) on
# [0, 255] (loss_range 0,255); mean shifts frozen (models/submodules.py MeanShift). Step parity:
# tests/test_step_parity_edsr_family.py::test_ignn_takes_the_official_steps.
IGNN = replace(BASE, model="ignn", scale=4, model_kwargs=dict(vgg_weights="imagenet"), patch_size=40,
               batch_size=2, lr=1e-4, beta1=0.9, beta2=0.999, iterations=800_000,
               milestones=(150_000, 310_000, 470_000, 630_000), gamma=0.5, pixel_loss="l1", loss_range="0,255",
               trainer="sczhou/IGNN: core/train.py")

# IMDN (Hui et al., ACM MM 2019, arXiv:1909.11856), x2, official ``train_IMDN.py`` defaults and
# ``data/DIV2K.py`` / ``data/common.py`` (read): HR patch 192 (``--patch_size`` is the output patch:
# LR 96 at x2; x3: --scale=3 --patch_size=64, x4: --scale=4 --patch_size=48), batch 16, Adam lr 2e-4
# (torch defaults 0.9 / 0.999 / 1e-8), L1, 8-way flips/transposes, 1000 epochs of 1000 iterations
# (test_every 1000: 800 images x 20 repeats / 16), lr x0.5 at ``epoch // 200`` with epochs counted from
# 1 - so one epoch early: 199k, 399k, ... as ``utils.adjust_learning_rate`` does. Inputs on [0, 1]
# (``--rgb_range 1``, ``np2Tensor``), so ``nn.L1Loss`` is on [0, 1]: loss_range '0,1' (Adam's epsilon
# acts as in the official step). No warm start (``--pretrained`` defaults to none). Kept on purpose:
# patches drawn with replacement, not in epochs; the suite's LR is MATLAB bicubic of the crop.
IMDN = replace(BASE, model="imdn", scale=2, patch_size=96, batch_size=16, lr=2e-4, iterations=1000 * EPOCH,
               milestones=tuple(k * 200 * EPOCH - EPOCH for k in range(1, 6)), gamma=0.5, pixel_loss="l1",
               loss_range="0,1", trainer="Zheng222/IMDN: train_IMDN.py")

# CARN / CARN-M (Ahn et al., ECCV 2018, arXiv:1803.08664), official README training command and
# ``carn/train.py`` / ``solver.py`` / ``dataset.py`` (read): LR patch 64 (``random_crop`` crops the LR),
# batch 64, Adam lr 1e-4 (torch defaults), lr x0.5 every 400k steps (``--decay 400000``), 600k steps,
# global-norm gradient clip 10 (``clip_grad_norm``), L1, random flips + rot90. Not reproduced: the
# official multi-scale training (``--scale 0``: each batch at a random scale in {2, 3, 4}, one shared
# body, the upsampler of that scale); a run here trains one scale (--scale), whose branch is the only
# trainable upsampler (see models/carn.py). CARN-M is the README's ``--group 4``.
# The step is ``solver.py`` ``Solver.fit``: L1 on ``ToTensor()`` images, [0, 1] (loss_range '0,1': the
# clip threshold 10 and Adam's epsilon act on the official gradient scale); ``clip_grad_norm`` (global
# norm) before ``step``; the lr is set AFTER each step from the step count before its increment,
# ``lr * 0.5 ** (step // decay)``, so the first halved batch is step 400,002 (milestone 400,001 here).
# Kept on purpose: the official loop runs to the end of the epoch in which step exceeds max_steps
# (600,012 steps with 800 images / 64); patches drawn with replacement. No warm start in the code.
CARN = replace(BASE, model="carn", scale=4, patch_size=64, batch_size=64, lr=1e-4, iterations=600 * EPOCH,
               milestones=(400 * EPOCH + 1,), gamma=0.5, grad_clip=10.0, pixel_loss="l1", loss_range="0,1",
               trainer="nmhkahn/CARN-pytorch: carn/solver.py + carn/train.py (README command)")
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
    if cfg.bias_lr_mult < 0:
        raise SRError(f"--bias_lr_mult multiplies the biases' learning rate: >= 0, got {cfg.bias_lr_mult}")
    if "/" in cfg.run or cfg.run in (".", ".."):
        raise SRError(f"--run is a folder name inside --output, got {cfg.run!r}")
    if not cfg.val_data:
        raise SRError("--val_data needs at least one validation set")
    choices = {"val_gray": ("matlab", "basicsr"), "optimizer": ("adam", "sgd"),
               "loss_reduction": ("mean", "sum", "total"),
               "loss_range": ("-1,1", "0,1", "0,255"),
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
    from paddle_sr.image.io import DEFAULT_MAX_PIXELS

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

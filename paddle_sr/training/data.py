"""A training recipe's data: ``training_set(cfg)`` builds and checks the items now (a missing default data set
names its download command), ``describe_training_set`` says what a run trains on and what the paper used.
"""
import os

from PIL import Image, UnidentifiedImageError  # noqa: F401

from paddle_sr.core.errors import SRError
from paddle_sr.data.datasets import LiifPatchDataset, PatchDataset


def _arbitrary_scale(cfg):
    from paddle_sr import models
    return models.scales(cfg.model) is None


def training_set(cfg):
    """A recipe's training items, built and checked now (every image opens and fits a patch), so missing or
    bad data fails before anything is written; a missing default data set names its download command."""
    if not cfg.data:
        raise SRError(f"recipe {cfg.model!r} has no default data: the paper trained on {cfg.paper_data}, which the "
                      f"suite cannot download. Pass --data=FOLDER (any folder of images), --data=div2k:data/DIV2K "
                      f"(`python data_scripts/div2k.py --root data/DIV2K`), or --data=embedded:train to train on the "
                      f"11 embedded photos as a stand-in (a demo, not a reproduction)")
    try:
        if _arbitrary_scale(cfg):  # LIIF's sampler: a random scale per item
            return LiifPatchDataset(cfg.data, inp_size=cfg.patch_size, scale_min=cfg.scale_min,
                                    scale_max=cfg.scale_max, sample_q=cfg.sample_q, seed=cfg.seed, augment=cfg.augment)
        return PatchDataset(cfg.data, cfg.scale, cfg.patch_size, seed=cfg.seed, augment=cfg.augment,
                            lr_source=cfg.lr_data or None)
    except SRError as e:
        kind, _, root = cfg.data.partition(":")
        sub = {"div2k": "DIV2K_train_HR", "celeba": "img_align_celeba"}.get(kind.lower())
        if sub is None or os.path.isdir(os.path.join(root, sub)):
            raise
        raise SRError(f"{e}. The paper trained on {cfg.paper_data or kind}: get it with `python data_scripts/"
                      f"{kind.lower()}.py --root {root}` (or pass --data={kind.lower()}:ROOT for your copy), or pass "
                      f"--data=embedded:train to train on the 11 embedded photos as a stand-in (a demo, not a "
                      f"reproduction)") from None


def describe_training_set(cfg, dataset):
    """What a run trains on, how much of it an 'epoch' sees, and what the paper used (a loud warning when the
    embedded photos stand in for a paper's data set)."""
    from paddle_sr.training.recipes import EPOCH

    n, per_epoch = len(dataset.paths), EPOCH * cfg.batch_size
    patch = (f"LR inputs {cfg.patch_size}x{cfg.patch_size} at x{cfg.scale_min:g}-{cfg.scale_max:g}"
             if _arbitrary_scale(cfg) else f"LR patches {cfg.patch_size}x{cfg.patch_size} -> HR "
                                           f"{cfg.patch_size * cfg.scale}x{cfg.patch_size * cfg.scale}")
    text = (f"data: {cfg.data} ({n} image{'s' * (n != 1)}); {patch}, batch {cfg.batch_size}; {EPOCH} iterations = "
            f"{per_epoch:,} patches ({per_epoch / n:.0f} per image)" + (f"; the paper: {cfg.paper_data}"
                                                                         if cfg.paper_data else ""))
    if cfg.paper_data and cfg.data.startswith("embedded"):
        text += (f"\nWARNING: {cfg.run} trains on the {n} embedded photos, a stand-in for the paper's "
                 f"{cfg.paper_data}: expect a demo, not the paper's numbers")
    return text

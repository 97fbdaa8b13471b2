"""Data sources: a data specification (``embedded:train``, ``div2k:ROOT``, ``celeba:ROOT``, a folder, a file,
a list of files) resolved to the HR image files it means, and the official LR files that go with them.
"""
import os

from paddle_sr.core.errors import SRError
from paddle_sr.image.io import list_images, load_image

# The "embedded" data set: photographs that scikit-image installs in ``skimage/data`` (no download,
# read straight from the package folder with ``load_image``; gray ones are replicated to RGB).
# Two colour photos are held out for validation; the split is fixed so runs compare.
EMBEDDED_TRAIN = (
    ("astronaut", "astronaut.png"), ("camera", "camera.png"), ("coins", "coins.png"),
    ("hubble_deep_field", "hubble_deep_field.jpg"), ("immunohistochemistry", "ihc.png"),
    ("moon", "moon.png"), ("motorcycle", "motorcycle_left.png"), ("rocket", "rocket.jpg"),
    ("brick", "brick.png"), ("grass", "grass.png"), ("gravel", "gravel.png"),
)
EMBEDDED_VAL = (("chelsea", "chelsea.png"), ("coffee", "coffee.png"))

# CelebA's official partition (list_eval_partition.txt): 000001-162770 train, 162771-182637 val, rest test.
CELEBA_SPLITS = {"train": (1, 162770), "val": (162771, 182637), "test": (182638, 202599)}
DIV2K_SPLITS = {"train": ("DIV2K_train_HR", 1, 800), "val": ("DIV2K_valid_HR", 801, 900)}


def _embedded_folder():
    import skimage.data
    return os.path.dirname(skimage.data.__file__)


def _embedded_table(split):
    tables = {"train": EMBEDDED_TRAIN, "val": EMBEDDED_VAL, "all": EMBEDDED_TRAIN + EMBEDDED_VAL}
    if split not in tables:
        raise SRError(f"unknown split {split!r} of the embedded images; use 'train', 'val' or 'all'")
    folder = _embedded_folder()
    found = [(name, os.path.join(folder, f)) for name, f in tables[split] if os.path.isfile(os.path.join(folder, f))]
    if not found:
        raise SRError(f"scikit-image's photographs are missing from {folder}; reinstall scikit-image "
                      f"(`pip install --force-reinstall scikit-image`)")
    return found


def embedded_images(split="train"):
    """The embedded data set: [(name, HxWx3 uint8)] of scikit-image's photographs for ``split``.

    ``split`` is 'train' (11 images: astronaut, camera, coins, hubble_deep_field, immunohistochemistry,
    moon, motorcycle, rocket, brick, grass, gravel), 'val' (chelsea, coffee) or 'all'.
    """
    return [(name, load_image(path)) for name, path in _embedded_table(split)]


def image_name(path):
    """Display name of a source: the embedded image's name, else the file name without extension."""
    path = os.fspath(path)
    if os.path.dirname(os.path.abspath(path)) == os.path.abspath(_embedded_folder()):
        for name, f in EMBEDDED_TRAIN + EMBEDDED_VAL:
            if os.path.basename(path) == f:
                return name
    return os.path.splitext(os.path.basename(path))[0]


def _numbered(folder, lo, hi, what):
    files = [f for f in list_images(folder)
             if os.path.splitext(os.path.basename(f))[0].isdigit()
             and lo <= int(os.path.splitext(os.path.basename(f))[0]) <= hi]
    if not files:
        raise SRError(f"{folder} holds no {what} images numbered {lo:04d}-{hi:04d}; check that ROOT is the "
                      f"folder of the unpacked archive")
    return files


def resolve_source(spec, split="train"):
    """Turn a data specification into a sorted list of HR image file paths.

    ``spec`` is one of
      - ``'embedded'`` / ``'embedded:train'`` / ``'embedded:val'`` / ``'embedded:all'``: scikit-image's
        photographs (see ``embedded_images``); a split written in the spec wins over ``split``;
      - ``'div2k:ROOT'``: ``ROOT/DIV2K_train_HR`` 0001-0800 (``split='train'``) or ``ROOT/DIV2K_valid_HR``
        0801-0900 (``split='val'``); the official LR images are used through ``lr_source=
        div2k_lr_folder(ROOT, scale, split)``;
      - ``'celeba:ROOT'``: ``ROOT/img_align_celeba`` (178x218 aligned faces), split by CelebA's official
        partition. The SRGAN notebook fed whole aligned images to its reader, which took one random
        (44*4)^2 = 176x176 window per image (row offset 0-42, column offset 0-2) and downscaled it to
        44x44; ``PatchDataset(celeba, scale=4, patch_size=44)`` draws exactly that window distribution;
      - a folder of images (all of them, ``split`` ignored), or a single image file;
      - a list/tuple of image paths (returned as a list after checking they exist).
    """
    if isinstance(spec, (list, tuple)):
        missing = [p for p in spec if not os.path.isfile(os.fspath(p))]
        if missing:
            raise SRError(f"{len(missing)} image file(s) do not exist, e.g. {missing[0]}; check the paths")
        if not spec:
            raise SRError("the list of images is empty; pass at least one image")
        return [os.fspath(p) for p in spec]
    spec = os.fspath(spec)
    kind, _, rest = spec.partition(":")
    kind = kind.lower()
    if kind == "embedded":
        return [path for _, path in _embedded_table(rest or split)]
    if kind in ("div2k", "celeba"):
        if not rest:
            raise SRError(f"{spec!r}: write {kind}:ROOT with ROOT the folder holding the data set")
        if not os.path.isdir(rest):
            raise SRError(f"{kind} root {rest} does not exist; download it with the scripts in data_scripts/ "
                          f"or pass the folder that contains it")
        if kind == "div2k":
            if split not in DIV2K_SPLITS:
                raise SRError(f"unknown DIV2K split {split!r}; use 'train' or 'val'")
            sub, lo, hi = DIV2K_SPLITS[split]
            if not os.path.isdir(os.path.join(rest, sub)):
                raise SRError(f"{os.path.join(rest, sub)} does not exist; ROOT must be the folder that contains "
                              f"{sub}/ (unpack {sub}.zip there)")
            return _numbered(os.path.join(rest, sub), lo, hi, "DIV2K")
        if split not in CELEBA_SPLITS:
            raise SRError(f"unknown CelebA split {split!r}; use 'train', 'val' or 'test'")
        folder = os.path.join(rest, "img_align_celeba")
        if not os.path.isdir(folder):
            raise SRError(f"{folder} does not exist; ROOT must be the folder that contains img_align_celeba/")
        return _numbered(folder, *CELEBA_SPLITS[split], "CelebA")
    if os.path.isfile(spec):
        load_image(spec)  # fail now, with the file's name, rather than inside a worker
        return [spec]
    return list_images(spec)


def div2k_lr_folder(root, scale, split="train"):
    """``ROOT/DIV2K_{train,valid}_LR_bicubic/X{scale}`` (the official MATLAB-bicubic LR), checked to exist."""
    sub = {"train": "DIV2K_train_LR_bicubic", "val": "DIV2K_valid_LR_bicubic"}[split]
    folder = os.path.join(os.fspath(root), sub, f"X{scale}")
    if not os.path.isdir(folder):
        raise SRError(f"{folder} does not exist; unpack {sub}_X{scale}.zip into {root}, or leave lr_source out "
                      f"to make LR with MATLAB bicubic on the fly")
    return folder


def _lr_files(hr_paths, lr_folder, scale):
    """Map each HR file to its LR file in ``lr_folder`` (``NAMEx{s}.png`` as DIV2K, or same name)."""
    names = {os.path.basename(f): f for f in list_images(lr_folder)}
    out = []
    for p in hr_paths:
        stem = os.path.splitext(os.path.basename(p))[0]
        hit = next((names[c] for c in (f"{stem}x{scale}.png", os.path.basename(p), f"{stem}.png") if c in names), None)
        if hit is None:
            raise SRError(f"no LR image for {p} in {lr_folder} (looked for {stem}x{scale}.png and "
                          f"{os.path.basename(p)}); pass the LR folder of the same scale and split")
        out.append(hit)
    return out

"""Download and prepare DIV2K (train/valid HR, official bicubic LR x2/x3/x4), optionally sub-images and LR.

    python data_scripts/div2k.py --root data/DIV2K
    python data_scripts/div2k.py --root data/DIV2K --parts train_hr valid_hr train_lr_x4 valid_lr_x4
    python data_scripts/div2k.py --root data/DIV2K --lr-scales 2 3 4 --subimages
    python data_scripts/div2k.py --root data/DIV2K --from-aistudio /home/aistudio/data/data12345

Layout (what ``'div2k:ROOT'`` in paddle_sr expects, as the official zips unpack):

    ROOT/DIV2K_train_HR/0001.png ... 0800.png       ROOT/DIV2K_valid_HR/0801.png ... 0900.png
    ROOT/DIV2K_train_LR_bicubic/X2/0001x2.png ...    ROOT/DIV2K_valid_LR_bicubic/X4/0801x4.png ...
    ROOT/DIV2K_train_HR_sub/0001_s001.png ...        ROOT/DIV2K_train_LR_bicubic/X4_sub/0001_s001.png ...
"""
import argparse
import os
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from data_scripts.download import Archive, add_common_args, is_complete, log, obtain
from paddle_sr.core.errors import SRError, cli_main

BASE_URL = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"

# Sizes and sha256 as recorded by TensorFlow Datasets (tensorflow_datasets/url_checksums/div2k.txt).
_CHECKSUMS = {
    "DIV2K_train_HR.zip": (3530603713, "9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335"),
    "DIV2K_valid_HR.zip": (448993893, "20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc"),
    "DIV2K_train_LR_bicubic_X2.zip": (925390592, "a53a424317575838dadce4bcd97cf7b744d6855f43740ed5f0245af3cf4bd850"),
    "DIV2K_train_LR_bicubic_X3.zip": (427847282, "ad5c8e5507e2765823d3c2c5bd0934842efcd487c5370604c224090898b3163a"),
    "DIV2K_train_LR_bicubic_X4.zip": (246914039, "f006b837f4eb52b82909aa01478e6d6d199eefce932179491d0c9dbb706dde3a"),
    "DIV2K_valid_LR_bicubic_X2.zip": (117763600, "60eed9875c697df51204aa579e2a699e1d5215095788a097ff54dd17e2664d57"),
    "DIV2K_valid_LR_bicubic_X3.zip": (54513392, "04b9a2ed3b4a0715d3924d3ae8514830c3328fac8d30512ce716d6f419e052a3"),
    "DIV2K_valid_LR_bicubic_X4.zip": (31505881, "a50a5d1c4b88de4e8d300d8fb2b904c52fe93b2b298a4899697760d7cbb6d553"),
}
_SPLITS = {"train": (1, 800), "valid": (801, 900)}
PARTS = ("train_hr", "valid_hr") + tuple(f"{sp}_lr_x{s}" for sp in ("train", "valid") for s in (2, 3, 4))
# BasicSR scripts/data_preparation/extract_subimages.py settings for DIV2K HR (LR: divided by the scale).
CROP, STEP, THRESH = 480, 240, 48

HELP = f"""
Sources: the official DIV2K page {BASE_URL} (Agustsson & Timofte, "NTIRE 2017 Challenge on Single
Image Super-Resolution: Dataset and Study", CVPRW 2017). LR images are the official MATLAB
imresize bicubic ones.

Parts (download size; sha256 checked against the values TensorFlow Datasets records):
  train_hr     DIV2K_train_HR.zip               3.53 GB   800 PNGs 0001-0800 (~2040 px)
  valid_hr     DIV2K_valid_HR.zip               0.45 GB   100 PNGs 0801-0900
  train_lr_x2  DIV2K_train_LR_bicubic_X2.zip    0.93 GB   train_lr_x3 0.43 GB, train_lr_x4 0.25 GB
  valid_lr_x2  DIV2K_valid_LR_bicubic_X2.zip    0.12 GB   valid_lr_x3 0.055 GB, valid_lr_x4 0.032 GB
Unpacked sizes are about the same (the PNGs are already compressed); archives are deleted after
unpacking unless --keep-archives. --subimages adds about the size of the train images again
(BasicSR: 480x480 HR crops every 240 px, a last crop when more than 48 px remain; LR crops /s).

Licence: DIV2K is provided for academic research use only (see the official page); cite the
NTIRE 2017 paper above. Nothing here redistributes the images.

Downloads resume: rerun the same command after an interruption (ROOT/downloads/NAME.part). A file
that fails its checksum is renamed NAME.bad and refused. Parts already unpacked are skipped.

AI Studio: add a DIV2K data set to the project (it is mounted under /home/aistudio/data/dataNNNN)
and pass --from-aistudio /home/aistudio/data/dataNNNN: the official zip names are searched below
that folder, checked (--no-verify for a repack you trust) and unpacked into --root; nothing is
downloaded. Any other folder holding the official zips works the same way.

Use in paddle_sr: source 'div2k:ROOT' (train 0001-0800, val 0801-0900); official LR via
lr_source=paddle_sr.data.div2k_lr_folder(ROOT, s); sub-images as the folders ROOT/DIV2K_train_HR_sub
with lr_source ROOT/DIV2K_train_LR_bicubic/X{{s}}_sub.
"""


def archives(base_url=BASE_URL):
    """{part: Archive} for the official DIV2K bicubic-track zips."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    out = {}
    for part in PARTS:
        split, kind = part.split("_", 1)
        lo, hi = _SPLITS[split]
        if kind == "hr":
            name, target, suffix = f"DIV2K_{split}_HR.zip", f"DIV2K_{split}_HR", ""
        else:
            s = int(kind[-1])
            name, target = f"DIV2K_{split}_LR_bicubic_X{s}.zip", f"DIV2K_{split}_LR_bicubic/X{s}"
            suffix = f"x{s}"
        size, sha = _CHECKSUMS[name]
        expected = tuple(f"{i:04d}{suffix}.png" for i in range(lo, hi + 1))
        out[part] = Archive(name=name, url=base + name, target=target, probe=expected[0], size=size, sha256=sha,
                            expected=expected)
    return out


# ---------------------------------------------------------------------------------------------
# Sub-images (BasicSR extract_subimages) and LR generation (the suite's MATLAB bicubic)
# ---------------------------------------------------------------------------------------------

def grid(length, crop, step, thresh):
    """Crop offsets along one side: every ``step``, plus a last one flush with the end when more than
    ``thresh`` pixels would be left over (BasicSR); a side shorter than ``crop`` gives one crop at 0."""
    starts = list(range(0, length - crop + 1, step))
    if not starts:
        return [0]
    if length - (starts[-1] + crop) > thresh:
        starts.append(length - crop)
    return starts


def _save_png(img, path):
    tmp = f"{path}.tmp.png"
    img.save(tmp, format="PNG", compress_level=3)  # BasicSR writes with cv2 PNG compression 3
    os.replace(tmp, path)  # atomic: an existing file is always a whole one, so reruns can skip it


def subimages_of(path, dst, crop, step, thresh):
    """Write the sub-images of one image as ``dst/NAME_sNNN.png`` (``x2``-style suffix dropped);
    existing ones are kept. Returns the number of sub-images of this image."""
    from PIL import Image

    stem = re.sub(r"x\d+$", "", Path(path).stem)
    with Image.open(path) as im:
        w, h = im.size
        index = 0
        for top in grid(h, crop, step, thresh):
            for left in grid(w, crop, step, thresh):
                index += 1
                out = os.path.join(dst, f"{stem}_s{index:03d}.png")
                if not os.path.exists(out):
                    _save_png(im.crop((left, top, min(left + crop, w), min(top + crop, h))), out)
    return index


def lr_of(path, dst, scale):
    """Write ``dst/NAMEx{s}.png`` = MATLAB imresize(modcrop(HR, s), 1/s) (the benchmark protocol's LR)."""
    import numpy as np
    from PIL import Image

    from paddle_sr.image.imresize import imresize

    out = os.path.join(dst, f"{Path(path).stem}x{scale}.png")
    if os.path.exists(out):
        return 0
    with Image.open(path) as im:
        hr = np.asarray(im.convert("RGB"))
    h, w = hr.shape[0] // scale * scale, hr.shape[1] // scale * scale
    _save_png(Image.fromarray(imresize(hr[:h, :w], 1.0 / scale)), out)
    return 1


def _pngs(folder):
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(".png"))


def _map(fn, items, workers):
    if workers <= 1:
        return [fn(*it) for it in items]
    with ProcessPoolExecutor(workers) as ex:
        return list(ex.map(fn, *zip(*items), chunksize=4))


def extract_subimages(src, dst, crop=CROP, step=STEP, thresh=THRESH, workers=1):
    """Sub-images of every PNG in ``src`` into ``dst``; returns the total count."""
    os.makedirs(dst, exist_ok=True)
    files = _pngs(src)
    if not files:
        raise SRError(f"{src} holds no PNG images to cut into sub-images; download that part first")
    n = sum(_map(subimages_of, [(f, dst, crop, step, thresh) for f in files], workers))
    log(f"{dst}: {n} sub-images of {len(files)} images ({crop}px, step {step}, threshold {thresh})")
    return n


def make_lr(src, dst, scale, workers=1):
    """MATLAB-bicubic LR of every PNG in ``src`` into ``dst`` (existing files kept); returns the count made."""
    try:
        import paddle_sr.image.imresize  # noqa: F401
    except ImportError:
        raise SRError("paddle_sr.image.imresize is not importable; run from the repository checkout") from None
    os.makedirs(dst, exist_ok=True)
    files = _pngs(src)
    n = sum(_map(lr_of, [(f, dst, scale) for f in files], workers))
    log(f"{dst}: {n} LR images made (x{scale}, MATLAB bicubic), {len(files) - n} already there")
    return n


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--parts", nargs="*", default=["train_hr", "valid_hr"], metavar="PART",
                        help=f"which archives (default: train_hr valid_hr); any of {', '.join(PARTS)}; "
                             f"'--parts' alone downloads nothing and only prepares what is in ROOT")
    parser.add_argument("--lr-scales", nargs="+", type=int, default=[], metavar="S",
                        help="make LR x S with the suite's MATLAB bicubic for the HR folders in ROOT, where the "
                             "official LR part is not already unpacked (same layout as the official LR)")
    parser.add_argument("--subimages", action="store_true",
                        help="cut the train HR (and the train LR of --lr-scales / downloaded LR parts) into "
                             "BasicSR sub-images: ROOT/DIV2K_train_HR_sub, ROOT/DIV2K_train_LR_bicubic/X{s}_sub")
    parser.add_argument("--crop-size", type=int, default=CROP, help="HR sub-image side (LR: divided by s)")
    parser.add_argument("--step", type=int, default=STEP, help="HR sub-image stride (LR: divided by s)")
    parser.add_argument("--thresh-size", type=int, default=THRESH,
                        help="add a last crop flush with the border when more than this many pixels remain")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                        help="processes for sub-images and LR generation")
    parser.add_argument("--base-url", default=BASE_URL,
                        help=f"address of the folder holding the zips (default {BASE_URL}; a mirror)")
    parser.add_argument("--from-aistudio", metavar="DIR",
                        help="unpack the official zips found under DIR (e.g. /home/aistudio/data/data12345) "
                             "instead of downloading")
    args = parser.parse_args(argv)

    table = archives(args.base_url)
    unknown = [p for p in args.parts if p not in table]
    if unknown:
        raise SRError(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    bad_scales = [s for s in args.lr_scales if s < 2]
    if bad_scales:
        raise SRError(f"--lr-scales must be integers >= 2, got {bad_scales}")
    sub_scales = sorted(set(args.lr_scales) | {int(p[-1]) for p in args.parts if p.startswith("train_lr")})
    for s in (sub_scales if args.subimages else []):
        if args.crop_size % s or args.step % s or args.thresh_size % s:
            raise SRError(f"--crop-size {args.crop_size}, --step {args.step} and --thresh-size {args.thresh_size} "
                          f"must be divisible by the scale {s} so HR and LR sub-images line up")
    root = Path(args.root)
    for part in dict.fromkeys(args.parts):
        obtain(table[part], root, local_dir=args.from_aistudio, verify=not args.no_verify, keep=args.keep_archives,
               retries=args.retries, timeout=args.timeout)

    for split in ("train", "valid"):
        hr = root / f"DIV2K_{split}_HR"
        if not hr.is_dir():
            continue
        for s in args.lr_scales:
            official = table.get(f"{split}_lr_x{s}")
            if official is not None and is_complete(root, official):
                log(f"{official.target}: official LR present, not regenerated")
                continue
            make_lr(hr, root / f"DIV2K_{split}_LR_bicubic" / f"X{s}", s, args.workers)

    if args.subimages:
        hr = root / "DIV2K_train_HR"
        if not hr.is_dir():
            raise SRError(f"{hr} does not exist; sub-images are cut from the train HR: add --parts train_hr")
        extract_subimages(hr, root / "DIV2K_train_HR_sub", args.crop_size, args.step, args.thresh_size, args.workers)
        for s in sub_scales:
            lr = root / "DIV2K_train_LR_bicubic" / f"X{s}"
            if lr.is_dir():
                extract_subimages(lr, root / "DIV2K_train_LR_bicubic" / f"X{s}_sub", args.crop_size // s,
                                  args.step // s, args.thresh_size // s, args.workers)
    log(f"done: use source 'div2k:{root}' in paddle_sr")
    return 0


if __name__ == "__main__":
    cli_main(main)

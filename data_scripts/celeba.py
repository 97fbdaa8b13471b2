"""Download and unpack CelebA's aligned faces (img_align_celeba.zip) for the SRResNet/SRGAN recipes.

    python data_scripts/celeba.py --root data/CelebA
    python data_scripts/celeba.py --root data/CelebA --zip ~/Downloads/img_align_celeba.zip
    python data_scripts/celeba.py --root data/CelebA --from-aistudio /home/aistudio/data/data12345

Layout (what ``'celeba:ROOT'`` in paddle_sr expects): ROOT/img_align_celeba/000001.jpg ... 202599.jpg
"""
import argparse

from data_scripts.download import Archive, add_common_args, log, obtain
from paddle_sr.core.errors import cli_main

DRIVE_ID = "0B7EVK8r0v71pZjFTYXZWM3FlRnM"  # the file the official page links (also torchvision's)
URL = f"https://drive.usercontent.google.com/download?id={DRIVE_ID}&export=download&confirm=t"
OFFICIAL_PAGE = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
N_IMAGES = 202599

HELP = f"""
Source: CelebA (Liu, Luo, Wang & Tang, "Deep Learning Face Attributes in the Wild", ICCV 2015),
official page {OFFICIAL_PAGE}. The aligned-and-cropped JPEGs come as
img_align_celeba.zip on the page's Google Drive folder (file id {DRIVE_ID});
the page also links a Baidu Netdisk copy.

Size: 1,443,490,838 bytes (1.44 GB) download, md5 00d2c5bc6d35e252742224ab0c1e8fcb, sha256
46fb8944...3a8c74 (values recorded by torchvision and TensorFlow Datasets; both are checked);
{N_IMAGES:,} JPEGs of 178x218, about 1.4 GB unpacked. paddle_sr splits them by the official
partition: 000001-162770 train, 162771-182637 val, the rest test.

Licence: CelebA is available for non-commercial research purposes only (see the agreement on the
official page); the images are not redistributed here.

Google Drive often answers large downloads with a quota or warning page instead of the file;
the script then stops with a clear message. Download the zip in a browser (or from a mirror) and
pass it with --zip PATH, or give a mirror's address with --url. Interrupted downloads resume when
the same command is rerun; a file that fails its checksum is renamed .bad and refused.

AI Studio: add a CelebA data set that contains img_align_celeba.zip to the project (mounted under
/home/aistudio/data/dataNNNN) and pass --from-aistudio /home/aistudio/data/dataNNNN; nothing is
downloaded. Use --no-verify for a repacked zip you trust (the unpacked layout is still checked).

Use in paddle_sr: source 'celeba:ROOT'.
"""


def archive(url=URL):
    return Archive(name="img_align_celeba.zip", url=url, target="img_align_celeba", probe="000001.jpg",
                   size=1443490838, md5="00d2c5bc6d35e252742224ab0c1e8fcb",
                   sha256="46fb89443c578308acf364d7d379fe1b9efb793042c0af734b6112e4fd3a8c74",
                   expected=tuple(f"{i:06d}.jpg" for i in range(1, N_IMAGES + 1)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--url", default=URL, help="download address (default: the official Google Drive file)")
    parser.add_argument("--zip", metavar="PATH", help="unpack this local img_align_celeba.zip instead of downloading")
    parser.add_argument("--from-aistudio", metavar="DIR",
                        help="unpack img_align_celeba.zip found under DIR (e.g. /home/aistudio/data/data12345)")
    args = parser.parse_args(argv)
    obtain(archive(args.url), args.root, local_dir=args.from_aistudio, local_file=args.zip,
           verify=not args.no_verify, keep=args.keep_archives, retries=args.retries, timeout=args.timeout)
    log(f"done: use source 'celeba:{args.root}' in paddle_sr")
    return 0


if __name__ == "__main__":
    cli_main(main)

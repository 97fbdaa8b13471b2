"""Download the SR benchmark test sets (HR ground truth): Set5, Set14, B100, Urban100.

    python data_scripts/benchmarks.py --root data/benchmarks
    python data_scripts/benchmarks.py --root data/benchmarks --sets Urban100
    python data_scripts/benchmarks.py --root data/benchmarks --sets Set5 --url https://mirror/Set5_HR.tar.gz

Layout: ROOT/Set5/HR/*.png, ROOT/Set14/HR/*.png, ROOT/B100/HR/*.png, ROOT/Urban100/HR/*.png -- what
``python -m paddle_sr.evaluate --data ROOT/Set5`` and ``reproduce --data ROOT`` read.
"""
import argparse

from data_scripts.download import Archive, add_common_args, log, obtain
from paddle_sr.core.errors import SRError, cli_main

HF = "https://huggingface.co/datasets/eugenesiow/{0}/resolve/main/data/{0}_HR.tar.gz"

# (archive base name on the mirror, a file that must be in it, folder md5 of the unpacked PNGs, archive md5)
# Folder md5 = md5 of the concatenated per-file md5 hex digests, sorted by name (deepinv's
# calculate_md5_for_folder; values from deepinv's Set5HR/Set14HR/BSD100HR/Urban100HR datasets).
# Set5 and Set14 were checked here: they equal the folder md5 of ../shared/benchmarks/{Set5,Set14}/HR.
# The Urban100 archive md5 is the one deepinv's examples check. No archive sizes are published.
_SETS = {
    "Set5": ("Set5", "baby.png", "e128ede786dabb7ebeee99e5fa1ad985", None),
    "Set14": ("Set14", "baboon.png", "3fce01c3dfe9760194e8a22f6bc032c5", None),
    "B100": ("BSD100", "3096.png", "2288d442262c1c26343fda3b36f05b03", None),
    "Urban100": ("Urban100", "img_001.png", "6e0640850d436a359e0a9baf5eabd27b", "65d9d84a34b72c6f7ca1e26a12df1e4c"),
}
SETS = tuple(_SETS)

HELP = """
Source of each set (HR ground truth only; LR inputs are made by the evaluation protocol with
MATLAB bicubic, see paddle_sr.imresize): the Hugging Face data sets of eugenesiow
(https://huggingface.co/datasets/eugenesiow/<Set5|Set14|BSD100|Urban100>), file data/<name>_HR.tar.gz:
  Set5      5 PNGs     ~0.9 MB   Bevilacqua et al., BMVC 2012
  Set14     14 PNGs    ~5 MB     Zeyde et al., Curves and Surfaces 2010 (bridge.png is grayscale)
  B100      100 PNGs   ~27 MB    Martin et al., ICCV 2001 (BSDS300 test split); named by Berkeley ID
  Urban100  100 PNGs   ~136 MB   Huang, Singh & Ahuja, CVPR 2015 (1024 px wide)
The same sets in the form most SR papers used come from jbhuang0604/SelfExSR on GitHub and from
EDSR's benchmark.tar (https://cv.snu.ac.kr/research/EDSR/benchmark.tar, all sets, 250 MB).
Manga109 is not downloaded: it is distributed under its own usage agreement.

Checks: the unpacked PNGs must match a published folder checksum (md5 of the per-file md5s);
Urban100's archive md5 is checked too. Set5 and Set14 from this source are byte-identical to
../shared/benchmarks/{Set5,Set14}/HR. The B100 copy here differs byte-wise from
../shared/benchmarks/B100 (that one is SelfExSR's image_SRF_3 HR renamed to Berkeley IDs, see its
README); compare a score on both before mixing them. A different copy passed with --url/--archive
fails the check: add --no-verify to accept it.

Licences: none of the sets ships a licence file; they are research benchmarks used as their
papers describe (cite them). BSDS images are for non-commercial research and education.

For the tests: CI and the test suite read Set5, Set14 and B100 from ../shared/benchmarks (beside
the checkout), so nothing needs downloading there; this script is for Urban100 and for machines
without that folder.
"""


def archives():
    out = {}
    for name, (hf, probe, content, md5) in _SETS.items():
        out[name] = Archive(name=f"{hf}_HR.tar.gz", url=HF.format(hf), target=f"{name}/HR", probe=probe, md5=md5,
                            content_md5=content)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--sets", nargs="+", default=list(SETS), metavar="SET",
                        help=f"which sets (default: all of {', '.join(SETS)})")
    parser.add_argument("--url", help="download address of the one set given with --sets (a mirror)")
    parser.add_argument("--archive", "--zip", dest="archive", metavar="PATH",
                        help="unpack this local archive (zip or tar) for the one set given with --sets")
    parser.add_argument("--from-aistudio", metavar="DIR",
                        help="unpack the archives (Set5_HR.tar.gz, ...) found under DIR instead of downloading")
    args = parser.parse_args(argv)
    table = archives()
    unknown = [s for s in args.sets if s not in table]
    if unknown:
        raise SRError(f"unknown set(s) {', '.join(unknown)}; choose from {', '.join(SETS)}")
    if (args.url or args.archive) and len(args.sets) != 1:
        raise SRError("--url and --archive name one archive: give exactly one set with --sets")
    for name in dict.fromkeys(args.sets):
        a = table[name]
        if args.url:
            a.url = args.url
        obtain(a, args.root, local_dir=args.from_aistudio, local_file=args.archive, verify=not args.no_verify,
               keep=args.keep_archives, retries=args.retries, timeout=args.timeout)
    log(f"done: HR images in {args.root}/<set>/HR")
    return 0


if __name__ == "__main__":
    cli_main(main)

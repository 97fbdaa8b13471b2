"""Official checkpoints on demand: a table of the authors' released weights, downloaded, checked, converted.

    python -m paddle_sr.pretrained                      # the table: ids, models, cached or not
    python -m paddle_sr.pretrained rlfn_x4 imdn_x2      # fetch and convert these now (e.g. before going offline)
    models.create("rlfn", scale=4, pretrained=True)     # the default checkpoint of a model and scale
    python -m paddle_sr.evaluate --model rlfn --scale 4 --weights official ...   # or official:ID

Each ``Entry`` names one file as its authors publish it (URL, sha256 of that file, format, source
repository and licence) and the registered model, scale and constructor arguments it fits, with the
paper's PSNR/SSIM rows and where they come from. ``weights_path(id)`` returns a converted
``.pdparams``: the raw file is downloaded once into ``HOME/downloads`` (resumable, atomic, checksum
verified by ``paddle_sr.core.download``; a mismatch is kept as ``*.bad`` and refused), then converted
without PyTorch (``paddle_sr.convert``) into ``HOME/pretrained/<id>.pdparams``.

``HOME`` is ``$PADDLE_SR_HOME`` or ``~/.cache/paddle_sr``. Offline, or with the files at hand (an
AI Studio data set): ``$PADDLE_SR_WEIGHTS`` (folders or files, separated by ``os.pathsep``) or the
``source=`` argument is searched for the file name before any download, and its checksum is
verified the same way (a name there that does not exist is an error naming the variable, never skipped in
silence; an unwritable cache is an error naming ``$PADDLE_SR_HOME``). ``$PADDLE_SR_MIRROR`` (a base URL) replaces the authors' hosts, for a mirror
of the files under their names.
"""
import argparse
import os

from paddle_sr.core.download import home  # noqa: F401 (the public API of paddle_sr.pretrained)
from paddle_sr.core.errors import cli_main
from paddle_sr.models.pretrained import entries, get, load, weights_path  # noqa: F401
from paddle_sr.weights.catalogue import BY_ID, ENTRIES, Entry, converted_path  # noqa: F401


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m paddle_sr.pretrained", description=__doc__.split("\n\n")[0])
    ap.add_argument("ids", nargs="*", help="fetch and convert these checkpoints now (default: list the table)")
    ap.add_argument("--source", default=None, help="a local file or folder holding the published files")
    args = ap.parse_args(argv)
    if args.ids:
        for ident in args.ids:
            print(f"{ident}: {weights_path(ident, source=args.source)}")
        return 0
    print(f"cache: {home()}  (PADDLE_SR_HOME; local copies: PADDLE_SR_WEIGHTS)")
    print(f"{'id':15s} {'model':11s} {'scale':5s} {'cached':6s} {'Set5 (paper)':12s} source")
    for e in entries():
        set5 = f"{e.paper['Set5'][0]:.2f}" if "Set5" in e.paper else "-"
        cached = "yes" if os.path.isfile(converted_path(e)) else "no"
        print(f"{e.id:15s} {e.model:11s} x{e.scale:<4d} {cached:6s} {set5:12s} {e.source} ({e.license})")
    return 0

if __name__ == "__main__":
    cli_main(main)


"""``paddle-sr TOOL ...`` (console script) or ``python -m paddle_sr TOOL ...``: one entry for every tool.

    paddle-sr train rdn --data=div2k:data/DIV2K      = python -m paddle_sr.train rdn ...
    paddle-sr evaluate --model bicubic --scale 4 --data data/benchmarks/Set5
"""
import importlib
import sys

from paddle_sr.core.errors import cli_main

TOOLS = {
    "train": ("paddle_sr.train", "train a recipe (python -m paddle_sr.train --help)"),
    "evaluate": ("paddle_sr.evaluate", "PSNR/SSIM on benchmark sets by the papers' protocol"),
    "predict": ("paddle_sr.predict", "super-resolve your own images"),
    "reproduce": ("paddle_sr.reproduce", "official checkpoints against their papers' tables"),
    "pretrained": ("paddle_sr.pretrained", "the table of official checkpoints; fetch them"),
    "convert": ("paddle_sr.convert", "official .pth / .mat -> .pdparams, without PyTorch"),
    "export": ("paddle_sr.export", "paddle.jit.save for deployment"),
    "bench": ("paddle_sr.bench", "parameters, FLOPs, activations, runtime"),
    "models": ("paddle_sr.models.__main__", "the registered models and their parameter counts"),
    "app": ("paddle_sr.app", "the browser app comparing models on your own images (requirements-app.txt)"),
}


def usage():
    return "usage: paddle-sr TOOL [options]   (TOOL --help for its options)\n\n" + "\n".join(
        f"  {name:11s} {text}" for name, (_, text) in TOOLS.items())


def cli(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv[0] not in TOOLS:
        print(f"error: unknown tool {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(TOOLS[name][0])
    sys.argv = [f"paddle-sr {name}"] + rest  # the tools' argparse reads sys.argv when not given a list
    code = cli_main(lambda: module.main())
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(cli())

"""Convert an official PyTorch checkpoint into ``.pdparams`` for a registered model (no PyTorch needed).

    python -m paddle_sr.convert --model rlfn --scale 4 rlfn_x4.pth output/weights/rlfn_x4.pdparams

What it does, in order (reading, mapping, checking, storing the value range): ``paddle_sr.models.convert``.
"""

import argparse

from paddle_sr import models
from paddle_sr.core.errors import SRError, cli_main
from paddle_sr.models.convert import NATIVE_RANGES, _parse_scale, convert, parse_arg


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m paddle_sr.convert", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help=f"registered model: {', '.join(sorted(NATIVE_RANGES))}")
    p.add_argument("--scale", default=None, help="upscaling factor the checkpoint was trained for (not needed for "
                                                 "arbitrary-scale models such as liif)")
    p.add_argument("--key", default=None, help="nested entry holding the state dict, e.g. params or model.sd")
    p.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE",
                   help="model constructor argument (repeatable), e.g. --arg n_resgroups=2")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("input", metavar="IN", help="official checkpoint: .pth/.pt (state dict or whole pickled model) "
                                                "or MatConvNet .mat")
    p.add_argument("output", metavar="OUT.pdparams")
    a = p.parse_args(argv)
    if a.scale is None:
        if models.scales(a.model) is not None:
            raise SRError(f"--scale is needed: {a.model} has one set of weights per scale "
                          f"({', '.join(map(str, models.scales(a.model)))}); pass the one the checkpoint was trained for")
        a.scale = "4"  # an arbitrary-scale model's weights serve every scale; 4 only names the built model
    try:
        scale = _parse_scale(a.scale)
    except ValueError:
        raise SRError(f"--scale must be a number, got {a.scale!r}") from None
    kwargs = dict(parse_arg(t) for t in a.arg)
    model = convert(a.model, scale, a.input, a.output, force=a.force, key=a.key, **kwargs)
    lo, hi = (float(v) for v in model.value_range.numpy())
    print(f"wrote {a.output}: {a.model} x{scale}, {len(model.state_dict())} tensors, "
          f"{models.count_parameters(model):,} parameters, value_range ({lo:g}, {hi:g})")

if __name__ == "__main__":
    cli_main(main)


"""``python -m paddle_sr.models``: the registered models, their scales and parameter counts (markdown)."""
import argparse
import sys

from paddle_sr.core.errors import SRError, cli_main
from paddle_sr.models._factory import create
from paddle_sr.models._registry import count_parameters, names, scales

ARBITRARY = (2, 3, 4)  # scales shown for arbitrary-scale models (the count does not depend on it)


def _title(doc):
    """The paper line a model file opens with, up to its authors/venue parenthesis, on one line."""
    first = " ".join((doc or "").strip().split("\n\n")[0].split())
    return first.split(" (")[0]


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m paddle_sr.models", description=__doc__)
    ap.add_argument("models", nargs="*", help="model names (default: all registered)")
    args = ap.parse_args(argv)
    unknown = [n for n in args.models if n not in names()]
    if unknown:  # before the table: no half-printed output
        raise SRError(f"unknown model{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                      f"known models: {', '.join(names())}")
    print("| name | paper | scales | parameters |")
    print("|---|---|---|---|")
    for name in args.models or names():
        supported = scales(name)
        counts, paper = [], ""
        for s in supported or ARBITRARY[-1:]:
            model = create(name, scale=s)
            module = sys.modules[type(model).__module__]
            paper = paper or (module.__name__.rsplit(".", 1)[-1], _title(module.__doc__))
            counts.append(f"{count_parameters(model):,}")
        shown = "any" if supported is None else " / ".join(f"x{s}" for s in supported)
        print(f"| `{name}` | {paper[1]} (`models/{paper[0]}.py`) | {shown} | {' / '.join(counts)} |")


if __name__ == "__main__":
    cli_main(main)

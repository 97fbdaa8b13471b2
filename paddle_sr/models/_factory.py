"""``create(name, scale, pretrained=..., **kwargs)``: a registered model, optionally with the authors' weights.

``_registry.build`` makes the network; ``pretrained=True`` (or a checkpoint id) then loads the released
weights through ``models.pretrained`` (downloaded once, checksum-verified, converted, cached).
"""
from paddle_sr.core.errors import SRError
from paddle_sr.models._registry import build
from paddle_sr.models.pretrained import get, load
from paddle_sr.weights.run_folder import OFFICIAL


def create(name, scale=4, pretrained=False, **kwargs):
    """Build registered model ``name`` for ``scale``; unknown names/scales raise SRError.

    ``pretrained=True`` loads the authors' released weights for this model and scale (``paddle_sr.pretrained``:
    downloaded once, checksum-verified, converted, cached); a string picks a checkpoint id (``'rlfn_x4'``).
    """
    if not pretrained:
        return build(name, scale, **kwargs)
    entry = get(OFFICIAL if pretrained is True else pretrained, name, scale)
    if kwargs and kwargs != entry.kwargs:
        raise SRError(f"pretrained checkpoint {entry.id} is for {name} built with {entry.kwargs or 'the defaults'}, "
                      f"not {kwargs}; drop the arguments or pretrained=")
    model = build(name, scale, **entry.kwargs)
    load(model, entry.id)
    model.eval()
    return model

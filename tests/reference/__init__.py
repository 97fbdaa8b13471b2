"""Test-only PyTorch reference implementations and the torch -> Paddle weight copy they share.

``edsr_family_torch`` re-types the official EDSR / RCAN / RDN definitions. ``torch_state_to_numpy`` and
``load_torch_state`` move a PyTorch state dict into a Paddle model: convolution weights are OIHW in
both frameworks so they copy as they are; ``nn.Linear`` weights are (out, in) in PyTorch and
(in, out) in Paddle, so their keys must be listed in ``transpose``.
"""
import numpy as np

from paddle_sr.weights.state import check_state_dict


def torch_state_to_numpy(state, transpose=()):
    """{name: torch tensor} (or a torch module) -> {name: float32/int numpy array} (copies); ``transpose`` keys get ``.T``."""
    if hasattr(state, "state_dict"):
        state = state.state_dict()
    unknown = set(transpose) - set(state)
    if unknown:
        raise KeyError(f"keys to transpose are not in the state dict: {sorted(unknown)}")
    out = {}
    for name, tensor in state.items():
        array = tensor.detach().cpu().numpy().copy()  # a snapshot: .numpy() shares memory with a live parameter
        out[name] = np.ascontiguousarray(array.T) if name in transpose else array
    return out


def load_torch_state(model, state, transpose=(), source="torch reference"):
    """Copy a PyTorch state dict (or module) into Paddle ``model`` after checking every key and shape."""
    arrays = torch_state_to_numpy(state, transpose)
    check_state_dict(model, arrays, source=source)
    model.set_state_dict(arrays)
    return model

"""The notebooks' ``show_image`` comparison figure, fixed.

Panels, left to right: LR (shown at HR size with nearest or bicubic display interpolation), MATLAB
bicubic x s, each model's SR, HR; PSNR/SSIM in every title (Y channel, ``scale`` pixels of border
ignored: the benchmark protocol of ``paddle_sr.image.metrics``). An optional second row zooms into a crop.

Fixed from the notebooks: SR is clipped to [-1, 1] and rounded before the uint8 cast (their
``np.uint8(x)`` wrapped 1.2 into dark "bright spots"), by the suite's one scoring step
(``runtime.scoring.score_image``), so the SR image and its PSNR/SSIM are exactly ``evaluate``'s; LR is
MATLAB bicubic, not PIL's; a grayscale or RGBA file works; the figure is built without pyplot (no global
state, no display needed) and shown inline only inside a notebook.
"""
import os

import numpy as np

from paddle_sr.core.errors import SRError
from paddle_sr.data.datasets import modcrop
from paddle_sr.image.io import load_image


def _as_model(title, m, scale):
    """An nn.Layer, a ``(name, scale, weights)`` tuple, or a weights path whose dict key is the model name.

    Weights inside a training run folder (``output/<run>/Best.pdparams``) rebuild the run's model
    from its ``config.json`` (``models.resolve.model_for_weights``): the demo's small RDN, say, not the
    registry's default RDN; such a path needs no model name as its title.
    """
    import paddle

    from paddle_sr import models
    from paddle_sr.models.resolve import model_for_weights
    from paddle_sr.weights.run_folder import CONFIG, run_config

    if isinstance(m, paddle.nn.Layer):
        model = m
    elif isinstance(m, (tuple, list)) and len(m) == 3:
        name, mscale, path = m
        model = model_for_weights(name, mscale, path)
    elif isinstance(m, (str, os.PathLike)):
        cfg = run_config(m) or {}
        name = cfg.get("model") or (title if title in models.names() else None)
        if name is None:
            raise SRError(f"cannot tell which model {os.fspath(m)} holds: use the model name as the title "
                          f"({', '.join(models.names())}) or pass (name, scale, path)")
        if cfg.get("model") and title in models.names() and title != cfg["model"]:
            raise SRError(f"{os.fspath(m)} was trained as model {cfg['model']!r} (its run's {CONFIG}), not "
                          f"{title!r}; use {cfg['model']!r} or another title")
        if cfg.get("model") and models.scales(name) is not None and cfg.get("scale") != scale:
            raise SRError(f"{os.fspath(m)} was trained for x{cfg.get('scale')} (its run's {CONFIG}) but the "
                          f"figure is x{scale}; pass scale={cfg.get('scale')}")
        model = model_for_weights(name, scale, m, config=cfg)
    else:
        raise SRError(f"model {title!r}: expected an nn.Layer, a (name, scale, weights_path) tuple or a "
                      f".pdparams path, got {type(m).__name__}")
    mscale = getattr(model, "sr_scale", None)
    if mscale is not None and mscale != scale:
        raise SRError(f"model {title!r} is built for x{mscale} but the figure is x{scale}; pass scale={mscale}")
    return model


def _in_notebook():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def show_image(lr=None, hr=None, models=None, scale=4, path=None, crop=None, lr_panel="nearest", save=None,
               show=None, gray=None, tile=None, force=False):
    """Draw LR / bicubic / SR (one per model) / HR side by side with PSNR/SSIM; returns the Figure.

    Args:
        lr: HxWx3 uint8 LR image; made from ``hr`` by MATLAB bicubic when left out.
        hr: HxWx3 uint8 HR image (modcropped to ``scale``); or ``path`` to an image file. With neither
            lr nor hr, the embedded validation photo ``chelsea`` is used. Without HR there are no
            HR panel and no scores.
        models: ``{title: model}`` with model an ``nn.Layer``, a ``(name, scale, weights_path)``
            tuple, or a ``.pdparams`` path (e.g. ``Best.pdparams``) when the title is a registered
            model name; a single ``nn.Layer`` is shown as ``'SR'``. The path may be ``'official'`` /
            ``'official:ID'``: the authors' released weights (``paddle_sr.pretrained``), e.g.
            ``{"RLFN": ("rlfn", 4, "official")}``.
        scale: SR factor; the scores ignore ``scale`` pixels at each border.
        crop: ``(top, left, height, width)`` in HR pixels: adds a row of zoomed crops and marks it.
        lr_panel: ``'nearest'`` (shows the LR pixels) or ``'bicubic'`` display interpolation of LR.
        save: PNG path to write (atomically); an existing file is refused (before any work) unless ``force``.
        show: display inline; default: only inside a Jupyter kernel (there, end the line with ``;``
            when the call is a cell's last line, or Jupyter echoes the returned Figure a second time).
        gray: scoring convention for a grayscale HR file (``None``, ``'matlab'``, ``'basicsr'``; see
            ``paddle_sr.image.metrics``).
        tile: LR tile size for large images (``paddle_sr.runtime.tiling.super_resolve``).
        force: replace an existing ``save`` file (a notebook re-run redrawing its own figure passes True).
    """
    if save is not None and not force:
        from paddle_sr.core.files import refuse_existing

        refuse_existing([save], "force=True", "another save= path")
    if lr_panel not in ("nearest", "bicubic"):
        raise SRError(f"lr_panel must be 'nearest' or 'bicubic', got {lr_panel!r}")
    scale = int(scale)
    lr, hr = _images(lr, hr, path, scale)
    if models is not None and not isinstance(models, dict):
        models = {"SR": models}
    panels = _panels(lr, hr, models or {}, scale, lr_panel, gray, tile)
    fig = _figure(panels, lr.shape[0] * scale, lr.shape[1] * scale, crop)
    if save is not None:
        from paddle_sr.core.files import atomic_write

        atomic_write(save, lambda tmp: fig.savefig(tmp, format="png", dpi=100), ".png")
    if show if show is not None else _in_notebook():
        from IPython.display import display
        display(fig)
    return fig


def _images(lr, hr, path, scale):
    """(LR, HR or None) as uint8: HR from ``path`` or the embedded photo when neither image is given,
    modcropped; LR made from it by MATLAB bicubic when left out."""
    from paddle_sr.image.imresize import imresize

    if hr is None and path is not None:
        hr = load_image(path)
    if hr is None and lr is None:
        from paddle_sr.data.sources import EMBEDDED_VAL, _embedded_table
        hr = load_image(dict(_embedded_table("val"))[EMBEDDED_VAL[0][0]])
    if hr is not None:
        hr = modcrop(np.asarray(hr, dtype=np.uint8), scale)
        lr = imresize(hr, 1.0 / scale) if lr is None else np.asarray(lr, dtype=np.uint8)
        if lr.shape[0] * scale != hr.shape[0] or lr.shape[1] * scale != hr.shape[1]:
            raise SRError(f"LR {lr.shape[1]}x{lr.shape[0]} times x{scale} is not the HR size "
                          f"{hr.shape[1]}x{hr.shape[0]}; pass matching images or only hr")
    return lr, hr


def _panels(lr, hr, models, scale, lr_panel, gray, tile):
    """[(title with PSNR/SSIM, uint8 image, display interpolation)]: LR, bicubic, each model's SR, HR.

    Bicubic and SR go through the suite's one scoring step (``scoring.score_image``; without HR its
    ``super_resolve_image``): the same uint8 rounding and the same PSNR/SSIM as ``evaluate``."""
    from paddle_sr.runtime.scoring import inference_options, score_image, super_resolve_image

    opts = inference_options(tile=tile)
    upscaled = [("Bicubic", None)] + [(title, _as_model(title, m, scale)) for title, m in models.items()]
    panels = [(f"LR x1/{scale} ({lr_panel})", lr, lr_panel)]
    for title, model in upscaled:
        if hr is None:
            panels.append((title, super_resolve_image(model, lr, scale, **opts), "nearest"))
            continue
        sr, p, s = score_image(model, lr, hr, scale, gray=gray, **opts)
        panels.append((f"{title}\nPSNR {p:.2f} dB / SSIM {s:.4f}", sr, "nearest"))
    if hr is not None:
        panels.append(("HR", hr, "nearest"))
    return panels


def _figure(panels, h, w, crop):
    """The matplotlib Figure (no pyplot): one row of panels drawn at HR size ``h`` x ``w``, and with ``crop``
    a second row zoomed into it, marked in the first."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    rows = 2 if crop is not None else 1
    fig = Figure(figsize=(3.6 * len(panels), 3.6 * rows * h / w + 0.6 * rows), layout="constrained")
    axes = fig.subplots(rows, len(panels), squeeze=False)
    for j, (title, img, interp) in enumerate(panels):
        ax = axes[0, j]
        ax.imshow(img, interpolation=interp, extent=(0, w, h, 0))  # LR drawn at HR size
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
        if crop is not None:
            top, left, ch, cw = (int(v) for v in crop)
            if top < 0 or left < 0 or ch < 1 or cw < 1 or top + ch > h or left + cw > w:
                raise SRError(f"crop {crop} (top, left, height, width) leaves the {w}x{h} HR image")
            ax.add_patch(Rectangle((left, top), cw, ch, fill=False, edgecolor="yellow", linewidth=1.2))
            zoom = axes[1, j]
            zoom.imshow(img, interpolation=interp, extent=(0, w, h, 0))
            zoom.set_xlim(left, left + cw)
            zoom.set_ylim(top + ch, top)
            zoom.set_axis_off()
    return fig

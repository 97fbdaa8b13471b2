"""Compare super-resolution models on your own images in the browser (Gradio).

    python -m paddle_sr.app [--server-name 127.0.0.1] [--port 7860] [--share] [--max-pixels N]
    make app                                   # installs requirements-app.txt, then the same

Pick a model (run folders under ``output/``, official checkpoints cached or in ``$PADDLE_SR_WEIGHTS``,
or any registered model with a weights file), upload an image or pick an example photo, and either
upscale it or degrade it first (MATLAB bicubic, benchmark protocol) and see PSNR/SSIM against the
original. The result is shown next to MATLAB bicubic (and a second model), with one zoom box at the
same place on every result, the time taken, and PNG downloads. Runs on the GPU when Paddle sees one.

A failed run empties the result panels (no earlier result stays under the new error); every panel is
labelled with what it shows. Results and Gradio's upload cache live in one temporary folder, removed when
the app stops (Ctrl-C, SIGTERM).

This file is layout and wiring (``App.run`` is what the Run button does, testable without Gradio); the
model handling is ``paddle_sr.service``.
"""
import argparse
import os
import shutil
import signal
import sys
import tempfile
import traceback
import types
import uuid

# All cores for inference: tiling.super_resolve sets them (engine.inference_threads).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no usage reports to Gradio's servers

from paddle_sr.apps import service  # noqa: E402
from paddle_sr.core.errors import SRError  # noqa: E402

CUSTOM = "any registered model + a weights file…"
NONE = "(none)"
BICUBIC_LABEL = "Bicubic (MATLAB)"
UPSCALE = "Upscale this image"
DEGRADE = "Degrade then restore (PSNR/SSIM against the original)"
KEEP_RUNS = 3  # result folders kept on disk (large PNGs)


def _import_gradio():
    try:
        import gradio as gr
    except ImportError:
        raise SRError("the app needs Gradio: pip install -r requirements-app.txt (or `make app`)") from None
    return gr


class Outcome:
    """What one press of Run shows: the status text, the three result panels as ``(label, image)`` (None: an
    empty panel), the PNG files to download and the zoom state. A failed run clears the panels and files,
    so no earlier result stays on the page under the new error."""

    def __init__(self, status, panels=(None, None, None), files=None, state=None):
        self.status, self.panels, self.files, self.state = status, list(panels), files, state


class App:
    """The state shared by the callbacks: options, the choice list, the folder for downloads.

    ``root`` (a temporary folder, or the one given) holds the result PNGs; ``close()`` removes it, and the
    app calls it when it stops (Ctrl-C, SIGTERM, the end of ``main``), so no temporary folder is left.
    """

    def __init__(self, output_dir="output", max_pixels=service.DEFAULT_MAX_PIXELS, max_memory_mb=None, root=None):
        self.output_dir, self.max_pixels, self.max_memory_mb = output_dir, int(max_pixels), max_memory_mb
        self.root = root or tempfile.mkdtemp(prefix="paddle_sr_app_")
        self.results_root = os.path.join(self.root, "results")
        os.makedirs(self.results_root, exist_ok=True)
        self.examples = dict(service.example_images())
        self.refresh()

    def close(self):
        """Remove the app's temporary folder (results, and Gradio's cache when ``main`` put it there)."""
        shutil.rmtree(self.root, ignore_errors=True)

    def run(self, src, mode, label_a, cname=None, cscale=None, cweights=None, free_scale=None, label_b=None,
            progress=None):
        """One press of Run: an ``Outcome``. Panels are labelled with what they show (the model's name)."""
        say = progress or (lambda fraction, desc=None: None)
        try:
            if not src:
                raise SRError("upload an image or pick an example photo first")
            img = service.read_image(src, self.max_pixels)
            choice_a = self.choice(label_a, cname, cscale, cweights)
            scale = service.build_scale(choice_a, free_scale if choice_a.arbitrary else None)
            picks = [choice_a]
            if label_b and label_b != NONE:
                choice_b = self.choice(label_b)
                service.build_scale(choice_b, scale)  # same scale or a clear message
                picks.append(choice_b)
            degrade = mode == DEGRADE
            hr, _, results = service.compare(picks, img, scale, degrade_first=degrade, path=src,
                                             progress=lambda f, text: say(f, desc=text),
                                             max_memory_mb=self.max_memory_mb, max_pixels=self.max_pixels)
            protocol = [service.protocol_line(scale, r.name, max_memory_mb=self.max_memory_mb)
                        for r in results] if degrade else []
            say(1.0, desc="writing the PNGs")
            out_dir = self.new_results_dir()
            stem = os.path.splitext(os.path.basename(src))[0]
            files = [service.save_png(r.image, os.path.join(out_dir, f"{stem}_{_safe(r.name)}_x{scale:g}.png"))
                     for r in results]
            if degrade:
                files.append(service.save_png(hr, os.path.join(out_dir, f"{stem}_original.png")))
            previews = [service.preview(r.image) for r in results]
            state = {"images": [(r.name, r.image) for r in results] + ([("original", hr)] if degrade else []),
                     "preview_hw": previews[0].shape[:2]}
            import paddle

            status = (f"**x{scale:g}**, {'degraded then restored' if degrade else 'upscaled'} on "
                      f"{paddle.device.get_device()}.\n\n" + _table(results, degrade, protocol))
            labels = [BICUBIC_LABEL] + [r.name for r in results[1:]]
            panels = [(label, view) for label, view in zip(labels, previews)]
            return Outcome(status, panels + [None] * (3 - len(panels)), files, state)
        except SRError as e:
            return Outcome(self.error(e))
        except Exception as e:  # noqa: BLE001 - the page shows one line; the server log keeps the traceback
            traceback.print_exc()
            return Outcome(self.error(f"unexpected {type(e).__name__}: {' '.join(str(e).split())[:300]}"))

    def error(self, e):
        return f"**Error:** {e}"

    def refresh(self):
        self.choices = {c.label: c for c in service.model_choices(self.output_dir)}
        return list(self.choices) + [CUSTOM]

    def choice(self, label, custom_name=None, custom_scale=None, custom_weights=None):
        if label == CUSTOM:
            return service.Choice.custom(custom_name, custom_scale, custom_weights)
        if label not in self.choices:
            raise SRError(f"no model {label!r} on this machine any more; press 'Refresh the list'")
        return self.choices[label]

    def new_results_dir(self):
        runs = sorted((os.path.join(self.results_root, d) for d in os.listdir(self.results_root)),
                      key=os.path.getmtime)
        for old in runs[:max(0, len(runs) - KEEP_RUNS + 1)]:
            shutil.rmtree(old, ignore_errors=True)
        path = os.path.join(self.results_root, uuid.uuid4().hex[:8])
        os.makedirs(path)
        return path


def _safe(name):
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def _fmt_time(s):
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.1f} s"


def _table(results, degrade, protocol):
    head = "| result | size | time | tiles | " + ("PSNR (dB) | SSIM |" if degrade else "")
    sep = "|---|---|---|---|" + ("---|---|" if degrade else "")
    rows = []
    for r in results:
        tiles = "—" if r.name == service.BICUBIC else (f"{r.tile} px" if r.tile else "whole image")
        row = f"| {r.name} | {r.image.shape[1]}x{r.image.shape[0]} | {_fmt_time(r.seconds)} | {tiles} |"
        if degrade:
            row += f" {r.psnr:.2f} | {r.ssim:.4f} |"
        rows.append(row)
    text = "\n".join([head, sep] + rows)
    if protocol:
        text += "\n\n" + "\n".join(f"`{line}`" for line in protocol)
    return text


class Events:
    """The page's callbacks, bound to one ``App`` (its state) and the imported Gradio module ``gr``.

    ``build`` lays out the page and wires its events to these methods; the model work is ``App.run`` and
    ``paddle_sr.apps.service``.
    """

    def __init__(self, app, gr):
        self.app, self.gr = app, gr

    def warn(self, e):
        msg = str(e)
        self.gr.Warning(msg)
        return self.app.error(msg)

    def load_input(self, path, max_side=800):
        """(preview, status, ok) of an image file."""
        if not path:
            return None, "", False
        try:
            img = service.read_image(path, self.app.max_pixels)
        except SRError as e:
            return None, self.warn(e), False
        h, w = img.shape[:2]
        return service.preview(img, max_side), f"Input {w}x{h}", True

    def on_upload(self, path):
        gr = self.gr
        view, status, ok = self.load_input(path)
        # a file that cannot be used is taken out of the upload box, ready for the next one
        return (path if ok else None), gr.update(value=NONE), view, status, (gr.update() if ok else None)

    def on_example(self, name):
        gr = self.gr
        if not name or name == NONE:
            return gr.update(), gr.update(), gr.update()
        path = self.app.examples[name]
        view, status, ok = self.load_input(path)
        return (path if ok else None), view, status

    def on_model(self, label):
        choices = self.app.choices
        # a custom model may be arbitrary-scale (liif): its scale is the slider's
        arbitrary = label == CUSTOM or (label in choices and choices[label].arbitrary)
        return self.gr.update(visible=label == CUSTOM), self.gr.update(visible=arbitrary)

    def on_model_b(self, label_b):
        return self.gr.update(visible=label_b != NONE)

    def on_refresh(self):
        labels = self.app.refresh()
        return self.gr.update(choices=labels), self.gr.update(choices=[NONE] + labels[:-1])

    def run(self, src, mode, label_a, cname, cscale, cweights, free_scale, label_b, progress=None):
        gr = self.gr
        out = self.app.run(src, mode, label_a, cname, cscale, cweights, free_scale, label_b, progress=progress)
        if out.state is None:
            gr.Warning(out.status[len("**Error:** "):])
        # each panel carries the name of what it shows; a failed run empties them (and the downloads)
        panels = [gr.update(value=p[1], label=p[0]) if p else gr.update(value=None) for p in out.panels]
        return (out.status, *panels, out.files, out.state)

    def update_zoom(self, state, cx, cy, frac):
        if not state:
            return None
        crops, box = service.zooms([img for _, img in state["images"]], cx / 100, cy / 100, frac / 100)
        names_ = [n for n, _ in state["images"]]
        return [(c, f"{n} — crop {box[3]}x{box[2]} at ({box[1]}, {box[0]})") for c, n in zip(crops, names_)]

    def on_select(self, state, evt):
        if not state or not evt.index:
            return self.gr.update(), self.gr.update()
        h, w = state["preview_hw"]
        x, y = evt.index[:2]
        return round(100 * x / w), round(100 * y / h)


def build(app):
    """The Gradio Blocks of ``app`` (an ``App``): the layout, and its events wired to ``Events`` methods."""
    gr = _import_gradio()
    labels = app.refresh()
    # delete_cache: Gradio's copies of uploads and results (large PNGs) older than 2 h go, checked hourly
    with gr.Blocks(title="paddle_sr — compare super-resolution models", delete_cache=(3600, 7200)) as demo:
        gr.Markdown("# paddle_sr — compare super-resolution models\nUpload an image (or pick an example), "
                    "choose a model, run. Large images are tiled; click a result or move the sliders to zoom "
                    "into the same place of every result.")
        ui = types.SimpleNamespace(src=gr.State(None), results=gr.State(None))
        with gr.Row():
            with gr.Column(scale=1):
                _controls(gr, ui, app, labels)
            with gr.Column(scale=2):
                _result_panels(gr, ui)
        _wire(gr, ui, Events(app, gr))
    return demo


def _controls(gr, ui, app, labels):
    """The left column: the input, the models and the buttons (components stored on ``ui``)."""
    from paddle_sr.models import names

    ui.upload = gr.File(label="Your image (PNG, JPEG, ...)", file_types=["image"], type="filepath",
                        elem_id="upload")
    ui.example = gr.Dropdown([NONE] + list(app.examples), value=NONE, label="…or an example photo",
                             elem_id="example")
    ui.input_view = gr.Image(label="Input", interactive=False, elem_id="input-view", format="png")
    ui.mode = gr.Radio([UPSCALE, DEGRADE], value=UPSCALE, label="What to do", elem_id="mode")
    ui.model_a = gr.Dropdown(labels, value=labels[0], label="Model", elem_id="model-a")
    with gr.Group(visible=labels[0] == CUSTOM) as ui.custom:
        ui.cname = gr.Dropdown(names(), value="rlfn" if "rlfn" in names() else names()[0],
                               label="Registered model")
        ui.cscale = gr.Number(value=4, label="Scale (fixed-scale models)", precision=0)
        ui.cweights = gr.Textbox(label="Weights file (.pdparams path, or 'official')", elem_id="weights")
    ui.free_scale = gr.Slider(service.ARBITRARY_SCALES[0], service.ARBITRARY_SCALES[1], value=4, step=0.1,
                              label="Scale (arbitrary-scale model)", visible=False)
    ui.model_b = gr.Dropdown([NONE] + labels[:-1], value=NONE, label="Second model (optional)",
                             elem_id="model-b")
    with gr.Row():
        ui.go = gr.Button("Run", variant="primary", elem_id="run")
        ui.refresh = gr.Button("Refresh the list")


def _result_panels(gr, ui):
    """The right column: status, the three result panels, the zoom and the downloads (stored on ``ui``)."""
    ui.status = gr.Markdown(elem_id="status")
    with gr.Row():
        ui.out_bic = gr.Image(label=BICUBIC_LABEL, interactive=False, elem_id="out-bicubic", format="png")
        ui.out_a = gr.Image(label="Model", interactive=False, elem_id="out-a", format="png")
        ui.out_b = gr.Image(label="Second model", interactive=False, elem_id="out-b", format="png",
                            visible=False)
    gr.Markdown("**Zoom** — the same box on every result (full resolution, pixels enlarged)")
    with gr.Row():
        ui.cx = gr.Slider(0, 100, value=50, step=1, label="centre x (%)", elem_id="zoom-x")
        ui.cy = gr.Slider(0, 100, value=50, step=1, label="centre y (%)", elem_id="zoom-y")
        ui.frac = gr.Slider(2, 100, value=15, step=1, label="box (% of the shorter side)")
    ui.zoomed = gr.Gallery(label="Zoom", columns=4, elem_id="zoom", format="png")
    ui.files = gr.File(label="Download PNG (full resolution)", file_count="multiple", elem_id="downloads")


def _wire(gr, ui, ev):
    """Connect the components on ``ui`` to the ``Events`` methods of ``ev``."""
    # Gradio hands a progress tracker and the click's coordinates only to a parameter declared with
    # gr.Progress() as default / annotated gr.SelectData: these two forward them to the methods.
    def run(src, mode, label_a, cname, cscale, cweights, free_scale, label_b, progress=gr.Progress()):
        return ev.run(src, mode, label_a, cname, cscale, cweights, free_scale, label_b, progress=progress)

    def on_select(state, evt: gr.SelectData):
        return ev.on_select(state, evt)

    zoom_in = [ui.results, ui.cx, ui.cy, ui.frac]
    ui.upload.upload(ev.on_upload, ui.upload, [ui.src, ui.example, ui.input_view, ui.status, ui.upload])
    ui.example.change(ev.on_example, ui.example, [ui.src, ui.input_view, ui.status])
    ui.model_a.change(ev.on_model, ui.model_a, [ui.custom, ui.free_scale])
    ui.model_b.change(ev.on_model_b, ui.model_b, ui.out_b)
    ui.refresh.click(ev.on_refresh, None, [ui.model_a, ui.model_b])
    ui.go.click(run, [ui.src, ui.mode, ui.model_a, ui.cname, ui.cscale, ui.cweights, ui.free_scale, ui.model_b],
                [ui.status, ui.out_bic, ui.out_a, ui.out_b, ui.files, ui.results]).then(
        ev.update_zoom, zoom_in, ui.zoomed)
    for slider in (ui.cx, ui.cy, ui.frac):
        slider.release(ev.update_zoom, zoom_in, ui.zoomed)
    for img in (ui.out_bic, ui.out_a, ui.out_b):
        img.select(on_select, ui.results, [ui.cx, ui.cy]).then(ev.update_zoom, zoom_in, ui.zoomed)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m paddle_sr.app", description=__doc__.split("\n\n")[0])
    ap.add_argument("--server-name", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    ap.add_argument("--port", type=int, default=None, help="port (default: Gradio's, 7860 or the next free one)")
    ap.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default)")
    ap.add_argument("--output", default="output", help="folder of training runs to offer (default: output)")
    ap.add_argument("--max-pixels", type=int, default=service.DEFAULT_MAX_PIXELS,
                    help=f"refuse inputs above N pixels (default {service.DEFAULT_MAX_PIXELS}: 2000x2000 fits)")
    ap.add_argument("--max-memory", type=int, default=None, metavar="MB",
                    help="working memory of one device call; larger images are tiled (default: paddle_sr.runtime.tiling's)")
    ap.add_argument("--device", default=None,
                    help="paddle device: cpu, gpu or gpu:N (default: a GPU if Paddle sees one)")
    args = ap.parse_args(argv)
    if args.max_pixels < 1:
        raise SRError(f"--max-pixels must be >= 1, got {args.max_pixels}")
    root = tempfile.mkdtemp(prefix="paddle_sr_app_")
    # Gradio's copies of uploads and results go there too (unless the user chose a folder), so stopping
    # the app leaves no temporary folder behind. Set before Gradio is imported: it reads the variable then.
    os.environ.setdefault("GRADIO_TEMP_DIR", os.path.join(root, "gradio"))
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)  # `kill`: clean up as after Ctrl-C
    try:
        _import_gradio()  # a missing Gradio is one line, before Paddle and the models load
        from paddle_sr.runtime.device import use_device

        _warn_weights_env()
        device = use_device(args.device)
        app = App(args.output, args.max_pixels, args.max_memory, root=root)
        demo = build(app)
        print(f"paddle_sr app on {device}; {len(app.choices)} model(s) found "
              f"(run folders in {args.output}/, official checkpoints cached or in PADDLE_SR_WEIGHTS)", flush=True)
        demo.queue(default_concurrency_limit=1)  # one run at a time: one model in memory
        demo.launch(server_name=args.server_name, server_port=args.port, share=args.share, show_error=True,
                    allowed_paths=[app.results_root], max_file_size=f"{max(args.max_pixels * 8 // 2 ** 20, 50)}mb")
    finally:
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(root, ignore_errors=True)
        print(f"removed the app's temporary folder {root}", flush=True)
    return 0


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def _warn_weights_env():
    """A mistyped ``$PADDLE_SR_WEIGHTS`` would only make official checkpoints missing from the list: say so."""
    from paddle_sr.weights.catalogue import weights_env

    try:
        weights_env()
    except SRError as e:
        print(f"warning: {e}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    from paddle_sr.core.errors import cli_main

    sys.exit(cli_main(main))

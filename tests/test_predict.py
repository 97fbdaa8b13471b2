"""predict CLI: files and folders, outputs, no silent overwrite, tiling, arbitrary-scale models."""
import numpy as np
import paddle
import pytest
from PIL import Image

from paddle_sr.core.errors import SRError, cli_main
from paddle_sr.runtime.tiling import super_resolve
from paddle_sr.models import create
from paddle_sr.predict import main, predict


@pytest.fixture(scope="module")
def rlfn_weights(tmp_path_factory):
    paddle.seed(0)
    path = tmp_path_factory.mktemp("w") / "rlfn_s_x2.pdparams"
    paddle.save(create("rlfn_s", scale=2).state_dict(), str(path))
    return path


def _inputs(tmp_path):
    rng = np.random.RandomState(0)
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(rng.randint(0, 256, (20, 26, 3)).astype(np.uint8)).save(folder / "rgb.png")
    Image.fromarray(rng.randint(0, 256, (17, 15)).astype(np.uint8)).save(folder / "gray.png")
    Image.fromarray(rng.randint(0, 256, (12, 14, 4)).astype(np.uint8)).save(folder / "rgba.png")
    single = tmp_path / "single.jpg"
    Image.fromarray(rng.randint(0, 256, (30, 22, 3)).astype(np.uint8)).save(single)
    return folder, single


def test_predict_files_and_folders(tmp_path, rlfn_weights):
    folder, single = _inputs(tmp_path)
    out = tmp_path / "out"
    written = main(["--model", "rlfn_s", "--weights", str(rlfn_weights), "--scale", "2", str(folder), str(single),
                    "--out", str(out), "--quiet"])
    names = sorted(p.name for p in out.iterdir())
    assert names == ["gray_x2.png", "rgb_x2.png", "rgba_x2.png", "single_x2.png"] and len(written) == 4
    assert Image.open(out / "rgb_x2.png").size == (52, 40)
    assert Image.open(out / "gray_x2.png").size == (30, 34)
    assert Image.open(out / "single_x2.png").mode == "RGB"
    # the file is the rounded output of the model, which was loaded from the weights file
    model = create("rlfn_s", scale=2)
    model.set_state_dict(paddle.load(str(rlfn_weights)))
    lr = np.asarray(Image.open(folder / "rgb.png"))
    expected = np.clip(np.round((super_resolve(model, lr, 2) + 1) * 127.5), 0, 255)
    assert np.abs(np.asarray(Image.open(out / "rgb_x2.png")).astype(int) - expected).max() <= 1


def test_no_overwrite_without_force_and_tiles(tmp_path, rlfn_weights, capsys):
    folder, _ = _inputs(tmp_path)
    out = tmp_path / "out"
    args = ["--model", "rlfn_s", "--weights", str(rlfn_weights), "--scale", "2", str(folder), "--out", str(out),
            "--quiet"]
    main(args)
    before = (out / "rgb_x2.png").read_bytes()
    with pytest.raises(SystemExit) as e:
        cli_main(lambda: main(args))
    err = capsys.readouterr().err
    assert e.value.code == 2 and "already exists" in err and "--force" in err
    main(args + ["--force", "--tile", "8", "--tile-overlap", "8"])
    tiled = np.asarray(Image.open(out / "rgb_x2.png")).astype(int)
    whole = np.asarray(Image.open(__import__("io").BytesIO(before))).astype(int)
    assert tiled.shape == whole.shape and np.abs(tiled - whole).mean() < 0.5


def test_user_errors(tmp_path, rlfn_weights):
    folder, _ = _inputs(tmp_path)
    base = ["--model", "rlfn_s", "--weights", str(rlfn_weights), "--out", str(tmp_path / "o"), "--quiet"]
    for extra, msg in [(["--scale", "2", str(tmp_path / "nope.png")], "does not exist"),
                       (["--scale", "2.5", str(folder)], "Non-integer scales"),
                       (["--size", "40x30", str(folder)], "arbitrary-scale"),
                       (["--scale", "3", str(folder)], "does not fit"),
                       ([str(folder)], "--scale")]:
        with pytest.raises(SRError, match=msg):
            main(base + extra)


def test_liif_non_integer_scale_and_size(tmp_path):
    paddle.seed(1)
    weights = tmp_path / "liif.pdparams"
    paddle.save(create("liif_edsr_baseline", scale=4).state_dict(), str(weights))
    src = tmp_path / "a.png"
    Image.fromarray(np.random.RandomState(2).randint(0, 256, (10, 12, 3)).astype(np.uint8)).save(src)
    base = ["--model", "liif_edsr_baseline", "--weights", str(weights), str(src), "--out", str(tmp_path / "o"),
            "--quiet"]
    main(base + ["--scale", "2.5"])
    assert Image.open(tmp_path / "o" / "a_x2.5.png").size == (30, 25)
    main(base + ["--size", "31x17", "--tile", "6", "--tile-overlap", "4"])
    assert Image.open(tmp_path / "o" / "a_31x17.png").size == (31, 17)


def _image_like_weights(path, name, scale, **kw):
    """Weights of ``name`` whose output on a random image is within about [-1, 1] (last layer rescaled),
    so rounding to 8 bits does not hide differences behind clipping."""
    paddle.seed(3)
    model = create(name, scale=scale, **kw)
    model.eval()
    x = paddle.to_tensor(np.random.RandomState(3).uniform(-1, 1, (1, 3, 12, 14)).astype("float32"))
    with paddle.no_grad():
        peak = float(model(x).abs().max())
    last = [l for l in model.sublayers() if getattr(l, "weight", None) is not None and not l.weight.stop_gradient][-1]
    last.weight.set_value(last.weight / peak)
    last.bias.set_value(last.bias / peak)
    paddle.save(model.state_dict(), str(path))
    return path


def _pngs(folder):
    return {p.name: np.asarray(Image.open(p)).astype(int) for p in sorted(folder.iterdir())}


def test_engine_inference_writes_the_eager_pngs(tmp_path):
    folder, single = _inputs(tmp_path)
    weights = _image_like_weights(tmp_path / "w.pdparams", "rlfn_s", 2)
    base = ["--model", "rlfn_s", "--weights", str(weights), "--scale", "2", str(folder), str(single), "--quiet"]
    main(base + ["--out", str(tmp_path / "eager"), "--engine", "eager"])
    main(base + ["--out", str(tmp_path / "inf"), "--engine", "inference"])
    eager, inf = _pngs(tmp_path / "eager"), _pngs(tmp_path / "inf")
    assert list(eager) == list(inf) == ["gray_x2.png", "rgb_x2.png", "rgba_x2.png", "single_x2.png"]
    for name in eager:
        assert 10 < eager[name].std() and 0.05 < np.mean((eager[name] > 0) & (eager[name] < 255))  # not all clipped
        assert eager[name].shape == inf[name].shape and np.abs(eager[name] - inf[name]).max() <= 1, name


def test_liif_engine_inference_fixed_scale(tmp_path):
    small = dict(encoder_kwargs=dict(n_resblocks=2, n_feats=16), hidden_list=(32, 32))
    model = create("liif_edsr_baseline", scale=2.5, **small)
    model.set_state_dict(paddle.load(str(_image_like_weights(tmp_path / "w.pdparams", "liif_edsr_baseline", 2.5,
                                                             **small))))
    rng = np.random.RandomState(4)
    Image.fromarray(rng.randint(0, 256, (9, 7, 3)).astype(np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(rng.randint(0, 256, (8, 10, 3)).astype(np.uint8)).save(tmp_path / "b.png")
    for src, tile in (("a.png", None), ("b.png", 4)):  # b: 3 tiles along x, edges on even LR pixels
        for engine in ("eager", "inference"):
            predict(model, [tmp_path / src], tmp_path / engine, scale=2.5, tile=tile, tile_overlap=2, engine=engine,
                    progress=False)
    eager, inf = _pngs(tmp_path / "eager"), _pngs(tmp_path / "inference")
    assert eager["a_x2.5.png"].shape == (22, 18, 3)  # round(9 * 2.5) = 22, round(7 * 2.5) = 18: half to even
    assert eager["b_x2.5.png"].shape == (20, 25, 3)
    for name in ("a_x2.5.png", "b_x2.5.png"):
        assert 10 < eager[name].std(), name
        assert eager[name].shape == inf[name].shape and np.abs(eager[name] - inf[name]).max() <= 1, name
    with pytest.raises(SRError, match="--engine eager"):
        main(["--model", "liif_edsr_baseline", "--weights", "w", "--size", "20x20", str(tmp_path / "a.png"),
              "--out", str(tmp_path / "o"), "--engine", "inference"])


def test_tile_overlap_default_and_max_memory_are_passed_through(tmp_path, rlfn_weights):
    """--tile-overlap defaults to the model's own (None); --max-memory MB reaches super_resolve."""
    import inspect

    from paddle_sr.runtime.tiling import super_resolve as sr_fn

    folder, _ = _inputs(tmp_path)
    base = ["--model", "rlfn_s", "--weights", str(rlfn_weights), "--scale", "2", str(folder / "rgb.png"), "--quiet"]
    main(base + ["--out", str(tmp_path / "whole")])
    main(base + ["--out", str(tmp_path / "tiled"), "--tile", "8"])  # no --tile-overlap: the default
    whole, tiled = (np.asarray(Image.open(tmp_path / d / "rgb_x2.png")).astype(int) for d in ("whole", "tiled"))
    assert whole.shape == tiled.shape and np.abs(whole - tiled).mean() < 0.5
    if "max_memory_mb" in inspect.signature(sr_fn).parameters:
        main(base + ["--out", str(tmp_path / "mem"), "--max-memory", "64"])
        assert np.abs(np.asarray(Image.open(tmp_path / "mem" / "rgb_x2.png")).astype(int) - whole).mean() < 0.5
    else:
        with pytest.raises(SRError, match="--max-memory"):
            main(base + ["--out", str(tmp_path / "mem"), "--max-memory", "64"])
    with pytest.raises(SRError, match="--tile-overlap must be >= 0"):
        main(base + ["--out", str(tmp_path / "bad"), "--tile", "8", "--tile-overlap", "-1"])
    assert not (tmp_path / "bad").exists()

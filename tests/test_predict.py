"""predict CLI: files and folders, outputs, no silent overwrite, tiling, arbitrary-scale models."""
import numpy as np
import paddle
import pytest
from PIL import Image

from paddle_sr.errors import SRError, cli_main
from paddle_sr.inference import super_resolve
from paddle_sr.models import create
from paddle_sr.predict import main


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

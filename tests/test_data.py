"""Image loading, data sources, patch readers (determinism, LR protocol, workers) and validation pairs."""
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from paddle_sr import data as D
from paddle_sr.core.errors import SRError
from paddle_sr.image.imresize import imresize
from paddle_sr.apps.notebook import reader_patch


def _rand(h, w, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c) if c else (h, w), dtype=np.uint8)


def _write_png16_rgb(path, a16):
    """Minimal PNG writer for 16-bit RGB (Pillow cannot write 48-bit PNGs)."""
    h, w, _ = a16.shape
    raw = b"".join(b"\x00" + a16[y].astype(">u2").tobytes() for y in range(h))

    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# ------------------------------------------------------------------ loading

def test_load_rgb_gray_rgba_palette_jpeg(tmp_path):
    rgb = _rand(9, 7)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert np.array_equal(D.load_image(tmp_path / "rgb.png"), rgb)

    gray = _rand(9, 7, 0)
    Image.fromarray(gray).save(tmp_path / "gray.png")
    g = D.load_image(tmp_path / "gray.png")
    assert g.shape == (9, 7, 3) and all(np.array_equal(g[..., c], gray) for c in range(3))
    assert D.is_grayscale_file(tmp_path / "gray.png") and not D.is_grayscale_file(tmp_path / "rgb.png")

    rgba = np.concatenate([rgb, _rand(9, 7, 1, seed=1)], axis=2)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    assert np.array_equal(D.load_image(tmp_path / "rgba.png"), rgb)  # alpha dropped, colour untouched

    pal = Image.fromarray(rgb).quantize(colors=16)
    pal.save(tmp_path / "pal.png")
    assert np.array_equal(D.load_image(tmp_path / "pal.png"), np.asarray(pal.convert("RGB")))

    smooth = np.broadcast_to(np.linspace(0, 250, 16).astype(np.uint8)[None, :, None], (12, 16, 3)).copy()
    Image.fromarray(smooth).save(tmp_path / "x.jpg", quality=95)
    j = D.load_image(tmp_path / "x.jpg")
    assert j.shape == (12, 16, 3) and j.dtype == np.uint8 and np.abs(j.astype(int) - smooth).max() <= 8
    Image.fromarray(smooth[..., 0]).save(tmp_path / "g.jpg")
    with Image.open(tmp_path / "g.jpg") as im:
        assert im.mode == "L" and np.array_equal(D.load_image(tmp_path / "g.jpg")[..., 1], np.asarray(im))


def test_load_16bit_png(tmp_path):
    v = np.array([[0, 257, 32767], [32896, 65280, 65535]], dtype=np.uint16)
    Image.fromarray(v).save(tmp_path / "g16.png")  # mode I;16
    g = D.load_image(tmp_path / "g16.png")
    assert g.shape == (2, 3, 3)
    assert np.array_equal(g[..., 0], np.round(v * 255.0 / 65535.0).astype(np.uint8))

    rgb8 = _rand(5, 4)
    _write_png16_rgb(tmp_path / "rgb16.png", rgb8.astype(np.uint16) * 257)  # 8-bit data widened to 16 bit
    assert np.array_equal(D.load_image(tmp_path / "rgb16.png"), rgb8)
    full = np.random.default_rng(2).integers(0, 65536, (6, 5, 3)).astype(np.uint16)
    _write_png16_rgb(tmp_path / "rgb16b.png", full)
    got = D.load_image(tmp_path / "rgb16b.png").astype(int)
    # Pillow keeps the high byte of 48-bit PNGs: at most 1 level from exact rounding.
    assert np.abs(got - np.round(full * 255.0 / 65535.0)).max() <= 1


def test_load_errors(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(SRError, match="cannot read image .*bad.png"):
        D.load_image(tmp_path / "bad.png")
    good = tmp_path / "trunc.png"
    Image.fromarray(_rand(64, 64)).save(good)
    good.write_bytes(good.read_bytes()[:200])
    with pytest.raises(SRError, match="trunc.png"):
        D.load_image(good)
    with pytest.raises(SRError, match="does not exist"):
        D.load_image(tmp_path / "nope.png")
    with pytest.raises(SRError, match="does not exist"):
        D.resolve_source(str(tmp_path / "missing_dir"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(SRError, match="holds no images"):
        D.resolve_source(str(tmp_path / "empty"))
    with pytest.raises(SRError, match="bad.png"):
        D.resolve_source(str(tmp_path / "bad.png"))


# ------------------------------------------------------------------ sources

def test_embedded_split():
    train, val = D.embedded_images("train"), D.embedded_images("val")
    names_t, names_v = [n for n, _ in train], [n for n, _ in val]
    assert len(names_t) >= 8 and names_v == ["chelsea", "coffee"] and not set(names_t) & set(names_v)
    for _, img in train + val:
        assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8 and min(img.shape[:2]) >= 300
    cam = dict(train)["camera"]
    assert np.array_equal(cam[..., 0], cam[..., 2])  # grayscale photo replicated
    assert D.resolve_source("embedded") == D.resolve_source("embedded:train")
    assert [D.image_name(p) for p in D.resolve_source("embedded:val")] == names_v
    assert len(D.resolve_source("embedded:all")) == len(names_t) + 2
    with pytest.raises(SRError, match="unknown split"):
        D.resolve_source("embedded:test")


def _tiny(path, size=(8, 8)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(_rand(size[1], size[0])).save(path)


def test_div2k_and_celeba_layouts(tmp_path):
    root = tmp_path / "DIV2K"
    for n in ("0001", "0002", "0800"):
        _tiny(root / "DIV2K_train_HR" / f"{n}.png")
    _tiny(root / "DIV2K_train_HR" / "0801.png")  # stray validation image in the train folder: excluded
    for n in ("0801", "0900"):
        _tiny(root / "DIV2K_valid_HR" / f"{n}.png")
    train = D.resolve_source(f"div2k:{root}")
    assert [os.path.basename(p) for p in train] == ["0001.png", "0002.png", "0800.png"]
    assert [os.path.basename(p) for p in D.resolve_source(f"div2k:{root}", split="val")] == ["0801.png", "0900.png"]
    with pytest.raises(SRError, match="DIV2K_train_LR_bicubic_X4.zip"):
        D.div2k_lr_folder(root, 4)
    with pytest.raises(SRError, match="does not exist"):
        D.resolve_source(f"div2k:{tmp_path / 'nowhere'}")
    with pytest.raises(SRError, match="DIV2K_valid_HR"):
        D.resolve_source(f"div2k:{root / 'DIV2K_train_HR'}", split="val")

    celeba = tmp_path / "celeba"
    for n in (1, 162770, 162771, 202599):
        _tiny(celeba / "img_align_celeba" / f"{n:06d}.jpg", (178, 218))
    assert len(D.resolve_source(f"celeba:{celeba}")) == 2
    assert [os.path.basename(p) for p in D.resolve_source(f"celeba:{celeba}", split="val")] == ["162771.jpg"]
    with pytest.raises(SRError, match="img_align_celeba"):
        D.resolve_source(f"celeba:{tmp_path}")
    # The SRGAN notebook's crop: a 176x176 window (x4, LR 44) of the 178x218 face, rows 0-42, columns 0-2.
    ds = D.PatchDataset(f"celeba:{celeba}", 4, 44, augment=False)
    assert ds[0][1].shape == (3, 176, 176)


# ------------------------------------------------------------------ PatchDataset

@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("hr")
    for i, (h, w) in enumerate([(60, 73), (81, 64), (64, 64)]):
        Image.fromarray(_rand(h, w, seed=10 + i)).save(d / f"im{i}.png")
    return d


def _locate(img, hr):
    """(row, col) where ``hr`` sits in ``img``."""
    for y in range(img.shape[0] - hr.shape[0] + 1):
        for x in range(img.shape[1] - hr.shape[1] + 1):
            if np.array_equal(img[y:y + hr.shape[0], x:x + hr.shape[1]], hr):
                return y, x
    return None


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_patch_matches_whole_image_protocol(folder, scale):
    ds = D.PatchDataset(str(folder), scale, 12, augment=False)
    imgs = [D.load_image(p) for p in ds.paths]
    for i in range(12):
        lr, hr = ds[i]
        assert lr.shape == (3, 12, 12) and hr.shape == (3, 12 * scale, 12 * scale) and lr.dtype == np.float32
        lr8, hr8 = D.to_uint8(lr), D.to_uint8(hr)
        hits = [(k, _locate(D.modcrop(im, scale), hr8)) for k, im in enumerate(imgs)]
        k, (y, x) = next((k, p) for k, p in hits if p is not None)
        assert y % scale == 0 and x % scale == 0  # on the LR grid
        whole = imresize(D.modcrop(imgs[k], scale), 1.0 / scale)
        assert np.array_equal(lr8, whole[y // scale:y // scale + 12, x // scale:x // scale + 12])


def test_patch_determinism_and_fresh_arrays(folder):
    a, b = D.PatchDataset(str(folder), 4, 8, seed=5), D.PatchDataset(str(folder), 4, 8, seed=5)
    lr1, hr1 = a[7]
    keep = lr1.copy()
    lr1[:] = 9.0  # a caller writing into an item must not change the next one
    assert np.array_equal(a[7][0], keep) and np.array_equal(b[7][0], keep) and np.array_equal(b[7][1], hr1)
    assert not np.array_equal(a[8][1], hr1)
    assert not np.array_equal(D.PatchDataset(str(folder), 4, 8, seed=6)[7][1], hr1)
    assert -1.0 <= hr1.min() and hr1.max() <= 1.0


def test_augmentation_is_the_same_transform_on_lr_and_hr(folder):
    plain = D.PatchDataset(str(folder), 2, 10, seed=3, augment=False)
    aug = D.PatchDataset(str(folder), 2, 10, seed=3, augment=True)
    seen = set()
    for i in range(48):
        (lr0, hr0), (lr1, hr1) = plain[i], aug[i]
        t = next(t for t in range(8) if np.array_equal(D.augment8(hr0.transpose(1, 2, 0), hr0.transpose(1, 2, 0), t)[1],
                                                         hr1.transpose(1, 2, 0)))
        seen.add(t)
        assert np.array_equal(D.augment8(lr0.transpose(1, 2, 0), lr0.transpose(1, 2, 0), t)[0], lr1.transpose(1, 2, 0))
    assert len(seen) == 8


def test_patch_too_large_and_lr_source(folder, tmp_path):
    # checked when the data set is built (issue 11: a bad file fails in seconds, not hours into a run)
    too_small = r"is \d+x\d+ \(WxH\), smaller than an LR patch of 20x20 at x4 \(80x80 HR pixels\).*; use a smaller"
    with pytest.raises(SRError, match=too_small):
        D.PatchDataset(str(folder), 4, 20)
    # Official-style LR folder (NAMEx4.png made by MATLAB bicubic): identical patches to on-the-fly LR.
    lr_dir = tmp_path / "X4"
    lr_dir.mkdir()
    for p in D.list_images(folder):
        stem = os.path.splitext(os.path.basename(p))[0]
        Image.fromarray(imresize(D.modcrop(D.load_image(p), 4), 0.25)).save(lr_dir / f"{stem}x4.png")
    a = D.PatchDataset(str(folder), 4, 8, seed=1)
    b = D.PatchDataset(str(folder), 4, 8, seed=1, lr_source=str(lr_dir))
    for i in range(6):
        assert all(np.array_equal(u, v) for u, v in zip(a[i], b[i]))
    os.remove(lr_dir / "im1x4.png")
    with pytest.raises(SRError, match="no LR image for .*im1.png"):
        D.PatchDataset(str(folder), 4, 8, lr_source=str(lr_dir))
    Image.fromarray(_rand(5, 5)).save(lr_dir / "im1x4.png")
    bad = D.PatchDataset(str(folder), 4, 8, lr_source=str(lr_dir))
    with pytest.raises(SRError, match="expected 16x20"):
        [bad[i] for i in range(30)]


def test_npy_cache_folder(folder, tmp_path):
    a = D.PatchDataset(str(folder), 3, 8, seed=2, cache=str(tmp_path / "npy"))
    b = D.PatchDataset(str(folder), 3, 8, seed=2, cache=False)
    for i in range(10):
        assert all(np.array_equal(u, v) for u, v in zip(a[i], b[i]))
    assert len(list((tmp_path / "npy").glob("*.npy"))) == 6 and not list((tmp_path / "npy").glob("*.tmp"))


# ------------------------------------------------------------------ loaders

def test_make_loader_resume_and_workers(folder):
    ds = D.PatchDataset(str(folder), 2, 8, seed=4)
    it = D.make_loader(str(folder), 2, 8, batch_size=3, seed=4)
    batches = [next(it) for _ in range(3)]
    for k, (lr, hr) in enumerate(batches):
        assert lr.shape == (3, 3, 8, 8) and hr.shape == (3, 3, 16, 16) and lr.dtype == np.float32
        assert np.array_equal(hr, np.stack([ds[k * 3 + j][1] for j in range(3)]))
    resumed = D.make_loader(str(folder), 2, 8, batch_size=3, seed=4, start_iteration=2)
    assert all(np.array_equal(u, v) for u, v in zip(next(resumed), batches[2]))
    workers = D.make_loader(str(folder), 2, 8, batch_size=3, seed=4, num_workers=2)
    for k in range(3):
        assert all(np.array_equal(u, v) for u, v in zip(next(workers), batches[k]))


def test_reader_patch(tmp_path):
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    for i, c in enumerate(colours):
        Image.fromarray(np.full((40, 40, 3), c, np.uint8)).save(tmp_path / f"c{i}.png")
    gen = reader_patch(8, scale=2, patchsize=[10, 10, 3], source=str(tmp_path), seed=0)
    batches = list(gen)
    assert len(batches) == 4  # one batch per image, like the notebooks' epoch
    lr, hr = batches[0]
    assert lr.shape == (8, 3, 10, 10) and hr.shape == (8, 3, 20, 20) and lr.dtype == np.float32
    assert not any(np.shares_memory(batches[0][0], b[0]) for b in batches[1:])
    assert len({tuple(D.to_uint8(h)[0, 0]) for h in hr}) > 1  # patches of one batch from several images
    assert np.allclose(lr[:, :, 0, 0], hr[:, :, 0, 0])  # constant image: LR colour = HR colour
    emb = next(reader_patch(2, source="embedded:val", seed=1))
    assert emb[0].shape == (2, 3, 48, 48) and emb[1].shape == (2, 3, 192, 192)


def test_liif_dataset(folder):
    from paddle_sr.models.common import make_coord

    full = D.LiifPatchDataset(str(folder), inp_size=8, scale_min=1, scale_max=4, sample_q=None, seed=0)
    part = D.LiifPatchDataset(str(folder), inp_size=8, scale_min=1, scale_max=4, sample_q=20, seed=0)
    plain = D.LiifPatchDataset(str(folder), inp_size=8, scale_min=1, scale_max=4, sample_q=None, seed=0, augment=False)
    imgs = [D.load_image(p) for p in full.paths]
    sizes = set()
    for i in range(6):
        lr, coord, cell, gt = plain[i]
        n = int(round(np.sqrt(len(gt))))
        sizes.add(n)
        assert lr.shape == (3, 8, 8) and coord.shape == cell.shape == (n * n, 2) and gt.shape == (n * n, 3)
        assert np.allclose(cell, 2.0 / n) and np.array_equal(coord, make_coord((n, n)))
        hr8 = D.to_uint8(gt.reshape(n, n, 3).transpose(2, 0, 1))
        assert any(_locate(im, hr8) is not None for im in imgs)  # gt is a crop of one image
        assert np.array_equal(D.to_uint8(lr), imresize(hr8, output_shape=(8, 8)))
        # Sub-sampled queries are the full crop's pixels at their coordinates (after augmentation too).
        _, fc, _, fg = full[i]
        _, pc, pcell, pg = part[i]
        assert pc.shape == (20, 2) and pg.shape == (20, 3) and pcell.shape == (20, 2)
        fh = int(round(np.sqrt(len(fg))))
        rows = np.round((pc[:, 0] + 1) / 2 * fh - 0.5).astype(int)
        cols = np.round((pc[:, 1] + 1) / 2 * fh - 0.5).astype(int)
        assert np.array_equal(pg, fg.reshape(fh, fh, 3)[rows, cols])
        assert np.array_equal(part[i][0], full[i][0])
    assert len(sizes) > 1 and all(8 <= s <= 32 for s in sizes)


# ------------------------------------------------------------------ validation

def test_validation_pairs():
    pairs = D.validation_pairs("embedded", 3)
    assert [n for n, _, _ in pairs] == ["chelsea", "coffee"]
    for _, lr, hr in pairs:
        assert hr.shape[0] % 3 == 0 and hr.shape[1] % 3 == 0
        assert np.array_equal(lr, imresize(hr, 1 / 3)) and lr.shape == (hr.shape[0] // 3, hr.shape[1] // 3, 3)
    name, lr, hr = D.validation_pairs("embedded:val", 4, max_size=130)[1]
    assert hr.shape == (128, 128, 3) and lr.shape == (32, 32, 3)
    coffee = D.modcrop(dict(D.embedded_images("val"))["coffee"], 4)
    top, left = (400 - 128) // 2 // 4 * 4, (600 - 128) // 2 // 4 * 4
    assert np.array_equal(hr, coffee[top:top + 128, left:left + 128])


def test_benchmark_folder(shared):
    pairs = D.validation_pairs(shared / "benchmarks" / "Set5" / "HR", 4)
    assert len(pairs) == 5 and all(hr.shape[0] == 4 * lr.shape[0] for _, lr, hr in pairs)


@pytest.mark.parametrize("scale", [3, 4])
def test_cached_whole_image_lr_equals_crop_lr(folder, tmp_path, scale):
    cached = D.PatchDataset(str(folder), scale, 9, seed=7)  # LR cut from the cached whole-image LR
    npy = D.PatchDataset(str(folder), scale, 9, seed=7, cache=str(tmp_path))
    crop = D.PatchDataset(str(folder), scale, 9, seed=7, cache=False)  # LR of the crop + context only
    for i in range(40):
        a, b, c = cached[i], npy[i], crop[i]
        assert np.array_equal(a[0], c[0]) and np.array_equal(a[1], c[1]) and np.array_equal(b[0], c[0])
    assert len(list(tmp_path.glob(f"*x{scale}.npy"))) == 3

"""paddle_sr.pth reads files written by the real PyTorch, and refuses pickles that would run code."""
import collections
import os
import pickle
import zipfile

import numpy as np
import pytest

from paddle_sr.errors import SRError
from paddle_sr.pth import read_pth

torch = pytest.importorskip("torch")


def _sample():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    shared = torch.arange(10, dtype=torch.int64)
    return collections.OrderedDict([
        ("conv.weight", torch.randn(4, 3, 3, 3, generator=torch.Generator().manual_seed(0))),
        ("half", torch.linspace(-2, 2, 7).to(torch.float16)),
        ("bf16", torch.tensor([1.5, -3.25, 1e-3]).to(torch.bfloat16)),
        ("double", torch.tensor([1 / 3], dtype=torch.float64)),
        ("long", torch.tensor([2 ** 40, -5], dtype=torch.int64)),
        ("int", torch.tensor([7, -8], dtype=torch.int32)),
        ("uint8", torch.tensor([0, 255], dtype=torch.uint8)),
        ("bool", torch.tensor([True, False])),
        ("transposed", base.t()),                # non-contiguous: stride (1, 6)
        ("strided", base[::2, 1::3]),           # offset 1 and strides (12, 3)
        ("slice", shared[3:7]),                  # storage offset 3, shares storage with 'shared'
        ("shared", shared),
        ("scalar", torch.tensor(3.5)),
        ("empty", torch.zeros(0, 3)),
        ("param", torch.nn.Parameter(torch.ones(2, 2))),
        ("nested", {"params": {"a.weight": torch.full((2,), 4.0)}, "epoch": 7, "name": "x",
                    "list": [torch.ones(1), (torch.zeros(2), 1.5)], "none": None}),
    ])


def _expect(obj):
    if isinstance(obj, torch.Tensor):
        t = obj.detach()
        return t.float().numpy() if t.dtype == torch.bfloat16 else t.numpy()
    if isinstance(obj, dict):
        return {k: _expect(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_expect(v) for v in obj)
    return obj


def _assert_same(got, want, where="root"):
    if isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray), where
        assert got.dtype == want.dtype and got.shape == want.shape, where
        np.testing.assert_array_equal(got, want, err_msg=where)
    elif isinstance(want, dict):
        assert list(got) == list(want), where
        for k in want:
            _assert_same(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_same(g, w, f"{where}[{i}]")
    else:
        assert got == want, where


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_reads_what_torch_saves(tmp_path, zip_format):
    sample = _sample()
    path = tmp_path / "sample.pth"
    torch.save(sample, path, _use_new_zipfile_serialization=zip_format)
    assert zipfile.is_zipfile(path) == zip_format
    got = read_pth(path)
    assert isinstance(got, collections.OrderedDict)
    _assert_same(got, _expect(sample))
    assert got["transposed"].flags.c_contiguous and got["bf16"].dtype == np.float32


def test_reads_archive_under_any_folder_name(tmp_path):
    # torch names the zip's top folder after the file; a renamed file keeps the old folder name.
    torch.save({"w": torch.arange(3.0)}, tmp_path / "original.pth")
    os.rename(tmp_path / "original.pth", tmp_path / "renamed.pt")
    np.testing.assert_array_equal(read_pth(tmp_path / "renamed.pt")["w"], [0.0, 1.0, 2.0])


class _Evil:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def _evil_payload(marker):
    return pickle.dumps({"conv.weight": _Evil(f"touch {marker}")}, protocol=2)


def test_malicious_zip_pth_is_refused_and_not_executed(tmp_path):
    # Premise: this pickle really runs the command when loaded with plain pickle.
    proof = tmp_path / "plain_pickle_ran"
    pickle.loads(_evil_payload(proof))
    assert proof.exists()

    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", _evil_payload(marker))
        zf.writestr("archive/version", "3\n")
    with pytest.raises(SRError) as e:
        read_pth(path)
    assert "system" in str(e.value) and "refused" in str(e.value)
    assert not marker.exists()


@pytest.mark.parametrize("legacy_header", [False, True], ids=["bare", "legacy-header"])
def test_malicious_plain_pickle_is_refused_and_not_executed(tmp_path, legacy_header):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    header = b""
    if legacy_header:  # a valid legacy preamble, so the reader gets as far as the object pickle
        info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
        header = b"".join(pickle.dumps(o, protocol=2) for o in (0x1950A86A20F9469CFC6C, 1001, info))
    path.write_bytes(header + _evil_payload(marker))
    with pytest.raises(SRError, match="system"):
        read_pth(path)
    assert not marker.exists()


def test_whole_model_pickle_is_refused_naming_the_class(tmp_path):
    path = tmp_path / "model.pth"
    torch.save(torch.nn.Conv2d(1, 1, 1), path)
    with pytest.raises(SRError, match=r"torch\.nn\.modules\.conv\.Conv2d.*state_dict"):
        read_pth(path)


def _forged(path, size, stride, offset, numel):
    """A zip checkpoint whose one tensor claims (size, stride, offset) over a storage of ``numel``."""
    class Tensor:
        def __reduce__(self):
            hooks = collections.OrderedDict()
            return (torch._utils._rebuild_tensor_v2, (Storage(), offset, size, stride, False, hooks))

    class Storage:
        pass

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", torch.FloatStorage, "0", "cpu", numel) if isinstance(obj, Storage) else None

    import io
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump({"w": Tensor()})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", buf.getvalue())
        zf.writestr("archive/data/0", np.arange(numel, dtype="<f4").tobytes())


def test_forged_tensor_reading_past_its_storage_is_refused(tmp_path):
    ok = tmp_path / "ok.pth"
    _forged(ok, (2, 2), (1, 2), 1, 5)  # the forger itself is right: this one reads fine
    np.testing.assert_array_equal(read_pth(ok)["w"], [[1, 3], [2, 4]])
    bad = tmp_path / "bad.pth"
    _forged(bad, (1000, 1000), (1000, 1), 0, 5)
    with pytest.raises(SRError, match="runs past its storage"):
        read_pth(bad)


@pytest.mark.parametrize("content,match", [
    (None, "does not exist"),
    (b"hello, not a checkpoint", "neither a zip nor"),
    (b"\x80\x02K\x05.", "not a PyTorch checkpoint"),
])
def test_unreadable_files_give_sr_error(tmp_path, content, match):
    path = tmp_path / "x.pth"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SRError, match=match):
        read_pth(path)


def test_paddle_pdparams_is_refused_with_a_hint(tmp_path):
    import paddle
    path = tmp_path / "w.pdparams"
    paddle.save({"w": paddle.ones([2])}, str(path))
    with pytest.raises(SRError, match="Paddle .pdparams"):
        read_pth(path)


def test_truncated_legacy_file_gives_sr_error(tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save({"w": torch.ones(100)}, path, _use_new_zipfile_serialization=False)
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(SRError, match="truncated"):
        read_pth(path)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_archive_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.Conv2d(1, 1, 1)), str(path))
    with pytest.raises(SRError, match="TorchScript.*state_dict"):
        read_pth(path)

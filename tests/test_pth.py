"""paddle_sr.pth reads files written by the real PyTorch, and refuses pickles that would run code."""
import collections
import os
import pickle
import zipfile

import numpy as np
import pytest

from paddle_sr.core.errors import SRError
from paddle_sr.weights.pth import read_pth

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


class TinyBlock(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn = torch.nn.BatchNorm2d(c)
        self.relu = torch.nn.ReLU(inplace=True)


class TinyNet(torch.nn.Module):
    """pytorch-vdsr style: nested Sequential of blocks, BatchNorm buffers, a None bias, buffers."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.residual_layer = torch.nn.Sequential(TinyBlock(4), torch.nn.Sequential(TinyBlock(4), torch.nn.PReLU(4)))
        self.up = torch.nn.Sequential(torch.nn.Conv2d(4, 16, 1), torch.nn.PixelShuffle(2), torch.nn.Upsample(scale_factor=2))
        self.head = torch.nn.Linear(4, 2)
        self.register_buffer("mean", torch.tensor([0.4488, 0.4371, 0.4040]))
        self.register_buffer("scratch", torch.ones(2), persistent=False)  # not in state_dict()
        self.register_buffer("nothing", None)
        self.register_parameter("unused", None)
        self.act = torch.nn.functional.relu  # a function reference kept as data, never called
        self.dtype_note = torch.float32


def _tiny_net():
    torch.manual_seed(0)
    net = TinyNet()
    for m in net.modules():  # non-trivial BatchNorm statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.num_batches_tracked.fill_(7)
    return net


_READ_IN_SUBPROCESS = """
import sys, numpy as np
from paddle_sr.pth import read_pth
got = read_pth(sys.argv[1])
assert "torch" not in sys.modules, "the reader imported torch"
assert not [m for m in sys.modules if "test_pth" in m], "the reader imported the pickled class's module"
sd = got["model"] if "model" in got else got
np.savez(sys.argv[2], epoch=got.get("epoch", -1), keys=np.array(list(sd)), **{f"v{i}": v for i, v in enumerate(sd.values())})
"""


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
@pytest.mark.parametrize("wrapped", [True, False], ids=["epoch-model-dict", "bare-module"])
def test_whole_pickled_model_reads_as_its_state_dict_without_torch(tmp_path, zip_format, wrapped):
    import subprocess
    import sys
    net = _tiny_net()
    path = tmp_path / "model_epoch_1.pth"
    torch.save({"epoch": 1, "model": net} if wrapped else net, path, _use_new_zipfile_serialization=zip_format)
    out = tmp_path / "got.npz"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([sys.executable, "-c", _READ_IN_SUBPROCESS, str(path), str(out)], cwd=root,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    got = np.load(out)
    want = net.state_dict()
    assert "scratch" not in want and "residual_layer.1.0.bn.running_var" in want  # premise
    assert list(got["keys"]) == list(want)  # same names, same order
    for i, (k, v) in enumerate(want.items()):
        np.testing.assert_array_equal(got[f"v{i}"], v.numpy(), err_msg=k)
        assert got[f"v{i}"].dtype == v.numpy().dtype, k
    assert int(got["epoch"]) == (1 if wrapped else -1)


def test_whole_pickled_model_as_records(tmp_path):
    from paddle_sr.weights.pth import PickledObject, PickledReference
    path = tmp_path / "m.pth"
    net = _tiny_net()
    torch.save(net, path)
    rec = read_pth(path, keep_modules=True)
    assert isinstance(rec, PickledObject) and rec.is_module and rec.qualname.endswith("TinyNet")
    conv = rec.state["_modules"]["conv1"]
    assert conv.qualname == "torch.nn.modules.conv.Conv2d" and conv.state["kernel_size"] == (3, 3)
    np.testing.assert_array_equal(conv.state["_parameters"]["weight"], net.conv1.weight.detach().numpy())
    assert isinstance(rec.state["act"], PickledReference)  # inert: only the name
    assert "torch.float32" in repr(rec.state["dtype_note"])


# ---- pickles that would run code: refused, in both file formats, and nothing runs ---------------------
def _global_call(module, name, *args):
    """Protocol-2 opcodes for ``module.name(*args)`` (GLOBAL + args tuple + REDUCE)."""
    return b"c" + f"{module}\n{name}\n".encode() + pickle.dumps(args, protocol=2)[2:-1] + b"R"


def _module_with(payload):
    """A whole-module-looking pickle (NEWOBJ of a model class + BUILD) whose state hides ``payload``."""
    return (b"\x80\x02}(X\x05\x00\x00\x00epochK\x01X\x05\x00\x00\x00model"
            b"cmodel\nNet\n)\x81}(X\x0b\x00\x00\x00_parameters}X\x08\x00\x00\x00_modules}"
            b"X\x04\x00\x00\x00evil" + payload + b"ubu.")


def _payloads(marker):
    cmd = f"touch {marker}"
    return {
        "posix.system": b"\x80\x02" + _global_call("posix", "system", cmd) + b".",
        "os.system": b"\x80\x02" + _global_call("os", "system", cmd) + b".",
        "builtins.eval": b"\x80\x02" + _global_call("builtins", "eval", f"__import__('os').system({cmd!r})") + b".",
        "__builtin__.eval": b"\x80\x02" + _global_call("__builtin__", "eval", f"__import__('os').system({cmd!r})") + b".",
        "subprocess.check_call": b"\x80\x02" + _global_call("subprocess", "check_call", ["touch", str(marker)]) + b".",
        "builtins.getattr": b"\x80\x02" + _global_call("builtins", "getattr", "x", "upper") + b".",
        "INST os.system": f"(S'{cmd}'\nios\nsystem\n.".encode(),
        "module state calls os.system": _module_with(_global_call("os", "system", cmd)),
        "module state calls a torch function": _module_with(_global_call("torch.hub", "load", "x/y", "z")),
        "legacy module id with a non-class": b"\x80\x02(X\x06\x00\x00\x00module" + _global_call("os", "system", cmd)
                                             + b"NNtQ)\x81.",
    }


MALICIOUS = sorted(_payloads("m"))


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
@pytest.mark.parametrize("kind", MALICIOUS)
def test_code_running_pickles_are_refused_and_not_executed(tmp_path, fmt, kind):
    marker = tmp_path / "pwned"
    payload = _payloads(marker)[kind]
    if kind in ("posix.system", "os.system", "builtins.eval", "INST os.system"):
        proof = tmp_path / "proof"  # premise: plain pickle really runs it
        pickle.loads(_payloads(proof)[kind])
        assert proof.exists()
    path = tmp_path / "evil.pth"
    if fmt == "zip":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("archive/data.pkl", payload)
            zf.writestr("archive/version", "3\n")
    else:
        info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
        header = b"".join(pickle.dumps(o, protocol=2) for o in (0x1950A86A20F9469CFC6C, 1001, info))
        path.write_bytes(header + payload)
    with pytest.raises(SRError) as e:
        read_pth(path)
    assert "refused" in str(e.value)
    name = kind.split()[-1] if "." in kind.split()[-1] else ("torch.hub.load" if "torch" in kind else "system")
    assert name.replace("__builtin__", "builtins") in str(e.value)
    assert not marker.exists()


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


# ---- Python 2 pickles (PyTorch <= 0.4 under Python 2): built opcode by opcode, as cPickle wrote them ----
def _s(b):
    """A Python 2 ``str`` (bytes of no declared encoding): SHORT_BINSTRING / BINSTRING."""
    return (b"U" + bytes([len(b)]) if len(b) < 256 else b"T" + len(b).to_bytes(4, "little")) + b


def _i(n):
    return pickle.dumps(n, protocol=2)[2:-1]  # BININT1 / BININT2 / BININT / LONG1: the same under Python 2


def _g(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _tuple(*items):
    return b"(" + b"".join(items) + b"t"


def _dict(*pairs):
    return b"}(" + b"".join(k + v for k, v in pairs) + b"u"


def _odict(*pairs):
    # Python 2's OrderedDict.__reduce__: OrderedDict([[k, v], ...])
    items = b"".join(b"](" + k + v + b"e" for k, v in pairs)
    return _g("collections", "OrderedDict") + _tuple(b"](" + items + b"e") + b"R"


def _py2_np_array(arr):
    """numpy.core.multiarray._reconstruct(ndarray, (0,), 'b') + __setstate__, Python 2 numpy 1.x style."""
    dt = _g("numpy", "dtype") + _tuple(_s(arr.dtype.str[1:].encode()), _i(0), _i(1)) + b"R" \
        + _tuple(_i(3), _s(b"<"), b"N", b"N", b"N", _i(-1), _i(-1), _i(0)) + b"b"
    return (_g("numpy.core.multiarray", "_reconstruct") + _tuple(_g("numpy", "ndarray"), _tuple(_i(0)), _s(b"b"))
            + b"R" + _tuple(_i(1), _tuple(*[_i(d) for d in arr.shape]), dt, b"\x89", _s(arr.astype("<" + arr.dtype.str[1:]).tobytes()))
            + b"b")


def _py2_np_scalar(x):
    dt = _g("numpy", "dtype") + _tuple(_s(b"f8"), _i(0), _i(1)) + b"R" \
        + _tuple(_i(3), _s(b"<"), b"N", b"N", b"N", _i(-1), _i(-1), _i(0)) + b"b"
    return _g("numpy.core.multiarray", "scalar") + _tuple(dt, _s(np.float64(x).tobytes())) + b"R"


class _Py2Legacy:
    """A legacy-format file written by PyTorch 0.3 under Python 2: header pickles, the object pickle whose
    tensors are ``_rebuild_tensor(('storage', FloatStorage, key, 'cpu', n, None), offset, size, stride)``,
    the storage key list, then each storage as int64 count + raw float32."""

    def __init__(self):
        self.storages = []

    def tensor(self, arr):
        key = str(len(self.storages)).encode()
        self.storages.append((key, np.ascontiguousarray(arr, dtype="<f4")))
        pid = _tuple(_s(b"storage"), _g("torch", "FloatStorage"), _s(key), _s(b"cpu"), _i(arr.size), b"N") + b"Q"
        stride = [int(np.prod(arr.shape[i + 1:])) for i in range(arr.ndim)]
        return (_g("torch._utils", "_rebuild_tensor")
                + _tuple(pid, _i(0), _tuple(*[_i(d) for d in arr.shape]), _tuple(*[_i(s) for s in stride])) + b"R")

    def parameter(self, arr):  # 0.3: Parameter.__reduce_ex__ -> (Parameter, (data, requires_grad))
        return _g("torch.nn.parameter", "Parameter") + _tuple(self.tensor(arr), b"\x88") + b"R"

    def module(self, cls, params=(), children=()):
        """NEWOBJ of a module class named through a ('module', cls, file, source) id, then BUILD."""
        source = _s("class Net(nn.Module):  # réseau\n".encode("utf-8"))  # non-ASCII, as real sources had
        cls_ref = _tuple(_s(b"module"), _g(*cls), _s(b"net.py"), source) + b"Q"
        state = _dict((_s(b"_backend"), _g("torch.nn.backends.thnn", "_get_thnn_function_backend") + b")R"),
                      (_s(b"_parameters"), _odict(*[(_s(k.encode()), v) for k, v in params])),
                      (_s(b"_buffers"), _odict()), (_s(b"_modules"), _odict(*[(_s(k.encode()), v) for k, v in children])),
                      (_s(b"training"), b"\x88"))
        return cls_ref + b")\x81" + state + b"b"

    def write(self, path, obj):
        info = _dict((_s(b"protocol_version"), _i(1001)), (_s(b"little_endian"), b"\x88"),
                     (_s(b"type_sizes"), _dict((_s(b"short"), _i(2)), (_s(b"int"), _i(4)), (_s(b"long"), _i(4)))))
        parts = [b"\x80\x02" + _i(0x1950A86A20F9469CFC6C) + b".", b"\x80\x02" + _i(1001) + b".",
                 b"\x80\x02" + info + b".", b"\x80\x02" + obj + b".",
                 b"\x80\x02](" + b"".join(_s(k) for k, _ in self.storages) + b"e."]
        for _, arr in self.storages:
            parts.append(np.int64(arr.size).astype("<i8").tobytes() + arr.tobytes())
        path.write_bytes(b"".join(parts))


def test_python2_numpy_opcodes_are_what_numpy_reads():
    # Premise of the tests below: the hand-built Python 2 array is the real format (numpy itself reads it
    # with torch.load's encoding), and Python 3's default ASCII decoding fails on it as the issue reports.
    arr = np.array([[0.5, -2.25, 1e-3], [3.0, 4.5, -7.0]], dtype="float32")
    blob = b"\x80\x02" + _py2_np_array(arr) + b"."
    np.testing.assert_array_equal(pickle.loads(blob, encoding="latin1"), arr)
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(blob)
    assert pickle.loads(b"\x80\x02" + _py2_np_scalar(31.5) + b".", encoding="latin1") == 31.5


def test_python2_state_dict_reads_as_torch_reads_it(tmp_path):
    w = np.arange(24, dtype="float32").reshape(2, 3, 2, 2) / 7
    f = _Py2Legacy()
    obj = _odict((_s(b"conv.weight"), f.tensor(w)), (_s(b"conv.bias"), f.tensor(np.array([-1.5, 2.0], "float32"))))
    path = tmp_path / "py2_sd.pth"
    f.write(path, obj)
    want = torch.load(path, encoding="latin1", weights_only=False)  # the file is what PyTorch reads too
    got = read_pth(path)
    assert list(got) == ["conv.weight", "conv.bias"]
    for k in want:
        np.testing.assert_array_equal(got[k], want[k].numpy())


def test_python2_whole_model_checkpoint_converts(tmp_path):
    from paddle_sr.convert import convert

    rng = np.random.default_rng(0)
    shapes = {"conv1": (8, 1, 9, 9), "conv2": (4, 8, 5, 5), "conv3": (1, 4, 5, 5)}
    weights = {f"{n}.{p}": rng.standard_normal(s if p == "weight" else s[:1]).astype("float32")
               for n, s in shapes.items() for p in ("weight", "bias")}
    f = _Py2Legacy()
    convs = [(n, f.module(("torch.nn.modules.conv", "Conv2d"),
                          params=[("weight", f.parameter(weights[n + ".weight"])),
                                  ("bias", f.parameter(weights[n + ".bias"]))])) for n in shapes]
    convs.append(("relu", f.module(("torch.nn.modules.activation", "ReLU"))))
    history = np.array([30.25, 31.0, 31.5])
    ckpt = _dict((_s(b"epoch"), _i(50)), (_s(b"model"), f.module(("model", "Net"), children=convs)),
                 (_s(b"psnr_history"), _py2_np_array(history)), (_s(b"best_psnr"), _py2_np_scalar(31.5)),
                 (_s(b"note"), _s("entraîné".encode("latin1"))))
    path = tmp_path / "model_epoch_50.pth"
    f.write(path, ckpt)
    got = read_pth(path)
    assert got["epoch"] == 50 and got["note"] == "entraîné" and got["best_psnr"] == 31.5
    np.testing.assert_array_equal(got["psnr_history"], history)
    assert list(got["model"]) == list(weights)
    model = convert("srcnn", 3, path, tmp_path / "srcnn.pdparams", n1=8, n2=4)
    for k, v in weights.items():
        np.testing.assert_array_equal(model.state_dict()[k].numpy(), v)


def _py2_payloads(marker):
    cmd = f"touch {marker}".encode()
    return {
        "os system": _g("os", "system") + _tuple(_s(cmd)) + b"R",
        "posix system": _g("posix", "system") + _tuple(_s(cmd)) + b"R",
        "__builtin__ eval": _g("__builtin__", "eval") + _tuple(_s(b"__import__('os').system('" + cmd + b"')")) + b"R",
        "INST os system": b"(" + _s(cmd) + b"ios\nsystem\n",
        "numpy load": _g("numpy", "load") + _tuple(_s(b"x.npy")) + b"R",
        "object array": _g("numpy.core.multiarray", "_reconstruct") + _tuple(_g("numpy", "ndarray"), _tuple(_i(0)),
                                                                              _s(b"b")) + b"R"
                        + _tuple(_i(1), _tuple(_i(1)), _g("numpy", "dtype") + _tuple(_s(b"O8"), _i(0), _i(1)) + b"R",
                                 b"\x89", b"](" + _g("os", "system") + _tuple(_s(cmd)) + b"Re") + b"b",
        "ndarray called": _g("numpy", "ndarray") + _tuple(_tuple(_i(2))) + b"R",
        "_codecs rot13": _g("_codecs", "encode") + _tuple(_s(cmd), _s(b"rot13")) + b"R",
    }


@pytest.mark.parametrize("kind", sorted(_py2_payloads("m")))
def test_malicious_python2_pickles_are_refused_and_not_executed(tmp_path, kind):
    if kind in ("os system", "INST os system"):  # premise: plain pickle runs these Python 2 opcodes
        proof = tmp_path / "proof"
        pickle.loads(b"\x80\x02" + _py2_payloads(proof)[kind] + b".", encoding="latin1")
        assert proof.exists()
    marker = tmp_path / "pwned"
    f = _Py2Legacy()
    path = tmp_path / "evil.pth"
    f.write(path, _dict((_s(b"w"), f.tensor(np.ones(2, "float32"))), (_s(b"x"), _py2_payloads(marker)[kind])))
    with pytest.raises(SRError, match="refused|not a readable") as e:
        read_pth(path)
    if kind != "ndarray called":  # calling the inert ndarray name is a TypeError: unreadable, nothing ran
        assert "refused" in str(e.value)
    assert not marker.exists()


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_numpy_entries_saved_by_python3_torch_read(tmp_path, zip_format):
    # torch.save of a checkpoint with numpy extras (protocol 2: the bytes go through _codecs.encode(..., 'latin1'))
    path = tmp_path / "ckpt.pth"
    hist = np.array([[1.5, -2.0], [3.25, 4.0]], dtype=">f8")  # big-endian on purpose: byte order is kept
    torch.save({"state_dict": {"w": torch.arange(4.0)}, "hist": hist, "best": np.float32(31.5),
                "ids": np.arange(3, dtype=np.int64)}, path, _use_new_zipfile_serialization=zip_format)
    got = read_pth(path)
    np.testing.assert_array_equal(got["hist"], hist)
    assert got["hist"].dtype == np.float64 and got["best"] == np.float32(31.5) and got["ids"].tolist() == [0, 1, 2]
    np.testing.assert_array_equal(got["state_dict"]["w"], [0, 1, 2, 3])

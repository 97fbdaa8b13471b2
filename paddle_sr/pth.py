"""Read PyTorch ``.pth`` / ``.pt`` checkpoints into numpy arrays without PyTorch, and without
executing anything from the file.

A ``.pth`` is a pickle, and unpickling runs whatever callables the file names (``os.system``
included). ``read_pth`` uses an unpickler whose ``find_class`` answers only with this module's own
stand-ins for the handful of globals a saved state dict needs (tensor/parameter rebuild functions,
storage types, ``OrderedDict``); any other global is refused with SRError before anything runs.

Formats:
- zip (``torch.save`` since PyTorch 1.6): ``<name>/data.pkl`` plus one raw little-endian file per
  storage under ``<name>/data/<key>`` (``<name>/byteorder`` may say ``big``).
- legacy (PyTorch 0.4 - 1.5, or ``_use_new_zipfile_serialization=False``): magic number, protocol
  and system-info pickles, the object pickle, the list of storage keys, then each storage as an
  int64 element count followed by its raw little-endian data.
- The tar format of PyTorch < 0.4 and TorchScript archives are refused with a message saying how
  to re-save the file.

Tensors come back as C-contiguous numpy arrays (offsets and strides applied); bfloat16 is widened
to float32 because numpy has no bfloat16.
"""
import collections
import os
import pickle
import tarfile
import zipfile

import numpy as np

from .errors import SRError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
RESAVE = ("re-save it with PyTorch: `sd = torch.load(IN, map_location='cpu'); "
          "torch.save(sd, OUT, _use_new_zipfile_serialization=True)`")

# torch storage class name -> numpy dtype of its elements ('bfloat16' is decoded by hand).
STORAGE_DTYPES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool",
    "UntypedStorage": "uint8",
}


class _StorageType:
    """Stand-in for ``torch.FloatStorage`` & co.: only remembers the element type."""

    def __init__(self, name):
        self.name, self.dtype = name, STORAGE_DTYPES[name]


class _Storage:
    """A storage named by the pickle; its bytes are attached later (legacy files store them after it)."""

    def __init__(self, key, dtype, numel, offset=0):
        self.key, self.dtype, self.numel, self.offset = key, dtype, numel, offset
        self.array = None  # flat numpy array of the root storage, set by the reader


class _Tensor:
    """A tensor recorded while unpickling; turned into a numpy array once all storages are read."""

    def __init__(self, storage, offset, size, stride):
        if not isinstance(storage, _Storage):
            raise SRError(f"malformed checkpoint: a tensor refers to {type(storage).__name__}, not a storage")
        self.storage, self.offset, self.size, self.stride = storage, int(offset), tuple(size), tuple(stride)

    def to_numpy(self, source):
        flat = self.storage.array
        if flat is None:
            raise SRError(f"{source}: storage {self.storage.key!r} has no data in the file (truncated file?)")
        start = self.storage.offset + self.offset
        n = len(self.size)
        if len(self.stride) != n or any(int(s) < 0 for s in self.size) or any(int(s) < 0 for s in self.stride):
            raise SRError(f"{source}: malformed tensor (size {self.size}, stride {self.stride})")
        # Bounds check before as_strided: it would otherwise read outside the buffer.
        last = start + sum((s - 1) * st for s, st in zip(self.size, self.stride)) if all(self.size) else start - 1
        if start < 0 or last >= flat.size:
            raise SRError(f"{source}: tensor of size {self.size} runs past its storage "
                          f"({flat.size} elements); the file is truncated or corrupt")
        if not all(self.size):
            return np.zeros(self.size, dtype=flat.dtype)
        base = flat[start:last + 1]
        strides = tuple(st * flat.itemsize for st in self.stride)
        return np.lib.stride_tricks.as_strided(base, shape=self.size, strides=strides).copy()


def _rebuild_tensor(storage, storage_offset, size, stride, *_):
    # torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])
    return _Tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *_):
    # torch._utils._rebuild_parameter(data, requires_grad, hooks[, state]): a Parameter is its data.
    return data


ALLOWED = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
}
ALLOWED.update({("torch", name): _StorageType(name) for name in STORAGE_DTYPES})


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, source, make_storage=None):
        super().__init__(file)
        self.source, self.make_storage = source, make_storage

    def find_class(self, module, name):
        try:
            return ALLOWED[(module, name)]
        except (KeyError, TypeError):
            pass
        if module.split(".")[0] == "numpy":  # paddle.save pickles numpy arrays; torch.save never does
            raise SRError(f"{self.source} holds numpy arrays (`{module}.{name}`), not PyTorch tensors: is it a "
                          f"Paddle .pdparams? Those load directly, without conversion (refused, nothing was run)")
        raise SRError(f"{self.source} refers to `{module}.{name}`, which a weights-only checkpoint does not "
                      f"need; refused without running it (a .pth is a pickle and could run any code). "
                      f"If you trust the file, load it with PyTorch and save only the state dict: "
                      f"`torch.save(model.state_dict(), OUT)`")

    def persistent_load(self, pid):
        if self.make_storage is None:
            raise SRError(f"{self.source}: unexpected storage reference in a header pickle; the file is corrupt")
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            kind = pid[0] if isinstance(pid, tuple) and pid else type(pid).__name__
            raise SRError(f"{self.source} holds a pickled {kind!r} object, not tensors (a whole model saved "
                          f"with torch.save(model)?); save `model.state_dict()` instead")
        if len(pid) < 5 or not isinstance(pid[1], _StorageType):
            raise SRError(f"{self.source}: unsupported storage reference {pid[:2]!r}; {RESAVE}")
        return self.make_storage(pid)

    def load(self):
        try:
            return super().load()
        except SRError:
            raise
        except Exception as e:  # malformed pickles raise assorted types
            raise SRError(f"{self.source} is not a readable PyTorch checkpoint ({type(e).__name__}: {e})") from None


def _resolve(obj, source):
    """Replace recorded tensors by numpy arrays inside dicts, lists, tuples and sets."""
    if isinstance(obj, _Tensor):
        return obj.to_numpy(source)
    if isinstance(obj, dict):
        out = type(obj)() if isinstance(obj, collections.OrderedDict) else {}
        for k, v in obj.items():
            out[k] = _resolve(v, source)
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve(v, source) for v in obj)
    if isinstance(obj, _Storage):
        return obj.array
    return obj


def _decode(raw, dtype, byteorder="little"):
    if dtype == "bfloat16":  # the upper half of a float32
        u16 = np.frombuffer(raw, dtype=("<" if byteorder == "little" else ">") + "u2", count=len(raw) // 2)
        return (u16.astype(np.uint32) << 16).view(np.float32)
    dt = np.dtype(dtype).newbyteorder("<" if byteorder == "little" else ">")
    return np.frombuffer(raw, dtype=dt, count=len(raw) // dt.itemsize).astype(np.dtype(dtype), copy=False)


def _itemsize(dtype):
    return 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize


def _read_zip(path, source):
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        pkl = [n for n in names if n.count("/") == 1 and n.endswith("/data.pkl")]
        if any(n.count("/") == 1 and n.endswith("/constants.pkl") for n in names):
            raise SRError(f"{source} is a TorchScript archive (torch.jit.save), not a checkpoint; load it with "
                          f"torch.jit.load and save its weights with torch.save(model.state_dict(), OUT)")
        if len(pkl) != 1:
            raise SRError(f"{source} is a zip file but not a PyTorch checkpoint (no <name>/data.pkl)")
        prefix = pkl[0][:-len("data.pkl")]
        byteorder = "little"
        if prefix + "byteorder" in names:
            byteorder = zf.read(prefix + "byteorder").decode("ascii", "replace").strip()
            if byteorder not in ("little", "big"):
                raise SRError(f"{source}: unknown byte order {byteorder!r}")
        storages = {}

        def make_storage(pid):
            _, stype, key, _location, numel = pid[:5]
            key = str(key)
            if key not in storages:
                entry = f"{prefix}data/{key}"
                if entry not in names:
                    raise SRError(f"{source}: storage {entry} is missing; the file is truncated or corrupt")
                st = _Storage(key, stype.dtype, int(numel))
                st.array = _decode(zf.read(entry), stype.dtype, byteorder)
                storages[key] = st
            return storages[key]

        with zf.open(pkl[0]) as f:
            obj = _RestrictedUnpickler(f, source, make_storage).load()
    return _resolve(obj, source)


def _read_legacy(path, source):
    with open(path, "rb") as f:
        header = _RestrictedUnpickler(f, source)
        if header.load() != LEGACY_MAGIC:
            raise SRError(f"{source} is a pickle but not a PyTorch checkpoint (no PyTorch magic number)")
        protocol = header.load()
        if protocol != 1001:
            raise SRError(f"{source}: legacy PyTorch format with protocol {protocol!r} is unsupported; {RESAVE}")
        info = header.load()
        if isinstance(info, dict) and info.get("little_endian") is False:
            raise SRError(f"{source} was saved on a big-endian machine in the legacy format, which is unsupported; "
                          f"{RESAVE}")
        roots, views = {}, []

        def make_storage(pid):
            if len(pid) != 6:
                raise SRError(f"{source}: unsupported legacy storage reference; {RESAVE}")
            _, stype, key, _location, numel, view = pid
            key = str(key)
            root = roots.setdefault(key, _Storage(key, stype.dtype, int(numel)))
            if view is None:
                return root
            _view_key, view_offset, view_size = view  # a view into a root storage (PyTorch < 0.4)
            st = _Storage(key, stype.dtype, int(view_size), offset=int(view_offset))
            views.append(st)
            return st

        obj = _RestrictedUnpickler(f, source, make_storage).load()
        keys = _RestrictedUnpickler(f, source).load()
        if not isinstance(keys, list):
            raise SRError(f"{source}: malformed legacy checkpoint (storage key list missing)")
        for key in keys:
            st = roots.get(str(key))
            if st is None:
                raise SRError(f"{source}: malformed legacy checkpoint (unknown storage {key!r})")
            count = np.frombuffer(f.read(8), dtype="<i8")
            size = _itemsize(st.dtype)
            if count.size != 1 or int(count[0]) < 0:
                raise SRError(f"{source} is truncated (storage {key!r} header missing)")
            raw = f.read(int(count[0]) * size)
            if len(raw) != int(count[0]) * size:
                raise SRError(f"{source} is truncated (storage {key!r} has {len(raw)} of "
                              f"{int(count[0]) * size} bytes)")
            st.array = _decode(raw, st.dtype)
        for v in views:
            v.array = roots[v.key].array
    return _resolve(obj, source)


def read_pth(path):
    """Read a PyTorch checkpoint; tensors become numpy arrays, containers stay dicts/lists.

    Raises SRError for a missing file, an unsupported format, or any global outside the allowed set
    (nothing from the file is executed).
    """
    path = os.fspath(path)
    source = f"checkpoint {path}"
    if not os.path.isfile(path):
        raise SRError(f"{source} does not exist; pass the path of an official .pth/.pt file")
    if zipfile.is_zipfile(path):
        return _read_zip(path, source)
    with open(path, "rb") as f:
        head = f.read(2)
    if head[:1] == b"\x80":  # pickle protocol >= 2: the legacy serialization
        return _read_legacy(path, source)
    if tarfile.is_tarfile(path):
        raise SRError(f"{source} uses the tar format of PyTorch < 0.4, which is unsupported; {RESAVE}")
    raise SRError(f"{source} is neither a zip nor a legacy PyTorch checkpoint; is it a .pth file?")

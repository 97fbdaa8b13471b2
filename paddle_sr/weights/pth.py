"""Read PyTorch ``.pth`` / ``.pt`` checkpoints into numpy arrays without PyTorch, and without
executing anything from the file.

A ``.pth`` is a pickle, and unpickling runs whatever callables the file names (``os.system``
included). ``read_pth`` uses an unpickler whose ``find_class`` never imports anything: it answers
with this module's own stand-ins, so the only code a pickle can reach is in this file.

The rule for a global ``module.name`` named by the pickle (``GLOBAL`` / ``STACK_GLOBAL`` / ``INST``):
(1) the tensor/parameter rebuild functions, storage types, ``collections.OrderedDict``, ``set`` and
``frozenset`` map to local stand-ins (``ALLOWED``) — the only names a pickle may call with arguments
that do something; so do, in the object pickle only, the names a pickled numpy array or scalar uses
(``numpy.core.multiarray._reconstruct`` / ``scalar``, ``numpy.ndarray``, ``numpy.dtype``,
``_codecs.encode``; ``NUMPY_ALLOWED``): their stand-ins build bool/int/float/complex arrays from raw
bytes and refuse object and structured arrays; (2) any other name in the standard library (``sys.stdlib_module_names``:
``os``/``posix``/``subprocess``/``builtins`` (``eval``, ``getattr``...)/``importlib``...), numpy or
paddle is refused with SRError before anything runs; (3) any other name that is a class by naming
convention (first letter after leading underscores upper-case: ``torch.nn.modules.conv.Conv2d``,
``model.Net``, ``srresnet._NetG``, ``torch.nn.parameter.Parameter``) becomes an inert record type:
``REDUCE`` / ``NEWOBJ`` / ``INST`` on it create a ``PickledObject`` that only keeps its class name
and arguments, ``BUILD`` (``__setstate__``) only stores the state (for a module: ``training``,
``_parameters``, ``_buffers``, ``_modules`` ...); (4) any other name (a function or constant such
as ``torch.float32`` or ``torch.nn.functional.relu``) becomes an inert reference, and a ``REDUCE``
that calls it is refused — except ``torch.device`` and old PyTorch's
``torch.nn.backends.thnn._get_thnn_function_backend`` (``CALLABLE_RECORDS``), which only make
records. Legacy files name a module's class through a ``('module', cls, file, source)`` persistent
id: only a record type is accepted there, and the embedded source is ignored.

Whole pickled models (``torch.save(model)``, e.g. ``{'epoch': 50, 'model': <Net>}`` of
twtygqyy/pytorch-vdsr) thus come back as records; ``read_pth`` then replaces every module record by
its flat state dict, named by module path and ordered exactly as ``module.state_dict()`` does
(parameters, then persistent buffers, then children; ``None`` entries skipped).

Python 2 pickles (PyTorch <= 1.4 under Python 2, protocol 2): a Python 2 ``str`` is decoded as latin1,
as ``torch.load`` does, so ``str`` keys, storage keys and the raw data of numpy arrays read; Python 2
names (``__builtin__``, ``copy_reg``) are renamed as ``pickle`` does before the rule above applies.

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
import _compat_pickle
import collections
import os
import pickle
import re
import sys
import tarfile
import zipfile

import numpy as np

from paddle_sr.core.errors import SRError

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


class _NdarrayName:
    """Stand-in for the name ``numpy.ndarray``: only ``_reconstruct`` accepts it; it cannot be called."""

    def __repr__(self):
        return "<pickled numpy.ndarray>"


_NDARRAY = _NdarrayName()
# Element types a numpy array in a checkpoint may have: bool, integers, floats, complex (never object
# arrays, whose elements are pickled objects, nor structured dtypes).
_NP_TYPECODE = re.compile(r"[biufc][0-9]{1,2}")


class _Refused(ValueError):
    """Raised by the numpy stand-ins for what they do not rebuild; ``load`` turns it into SRError."""


def _raw_bytes(data, what):
    # Python 2 pickles hold the raw data as a `str` (decoded latin1 on the way in, as torch.load does);
    # Python 3 protocol 2 pickles wrap it in _codecs.encode(str, 'latin1'), which gives bytes already.
    if isinstance(data, str):
        return data.encode("latin1")
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    raise _Refused(f"{what} data is a {type(data).__name__}, not raw bytes (object arrays are refused)")


class _NpDtype:
    """Stand-in for ``numpy.dtype(spec, align, copy)`` + its ``__setstate__``: numeric types only."""

    def __init__(self, spec, align=False, copy=True):
        if not isinstance(spec, str) or not _NP_TYPECODE.fullmatch(spec):
            raise _Refused(f"numpy dtype {spec!r} is not a plain numeric type")
        self.dtype = np.dtype(spec)

    def __setstate__(self, state):
        # (version, byteorder, subarray, names, fields, elsize, alignment, flags)
        if not isinstance(state, tuple) or len(state) < 5 or any(v is not None for v in state[2:5]):
            raise _Refused("structured numpy dtypes are refused")
        if state[1] in ("<", ">"):
            self.dtype = self.dtype.newbyteorder(state[1])


class _NpArray:
    """Stand-in for ``numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')`` + ``__setstate__``."""

    def __init__(self):
        self.array = None

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 5:
            state = state[1:]  # (version, shape, dtype, is_fortran, data)
        if not isinstance(state, tuple) or len(state) != 4 or not isinstance(state[1], _NpDtype):
            raise _Refused("malformed numpy array")
        shape, dtype, fortran, data = state
        shape = tuple(int(d) for d in shape)
        raw, dt = _raw_bytes(data, "numpy array"), dtype.dtype
        if any(d < 0 for d in shape) or len(raw) != int(np.prod(shape)) * dt.itemsize:
            raise _Refused(f"numpy array of shape {shape} has {len(raw)} bytes of {dt}")
        arr = np.frombuffer(raw, dtype=dt).reshape(shape, order="F" if fortran else "C")
        self.array = np.ascontiguousarray(arr.astype(dt.newbyteorder("="), copy=False))


def _np_reconstruct(cls, shape, typecode):
    if cls is not _NDARRAY:
        raise _Refused("numpy _reconstruct of something other than numpy.ndarray")
    return _NpArray()


def _np_scalar(dtype, data):
    if not isinstance(dtype, _NpDtype):
        raise _Refused("malformed numpy scalar")
    raw = _raw_bytes(data, "numpy scalar")
    if len(raw) != dtype.dtype.itemsize:
        raise _Refused("malformed numpy scalar")
    return np.frombuffer(raw, dtype=dtype.dtype)[0].astype(dtype.dtype.newbyteorder("="))


def _latin1_encode(text, encoding="utf-8", errors="strict"):
    # _codecs.encode as protocol-2 pickles of bytes use it: only str -> bytes in latin1.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1") or errors != "strict":
        raise _Refused("_codecs.encode is only accepted as str -> latin1 bytes")
    return text.encode("latin1")


# numpy arrays and scalars, as a checkpoint's extra entries hold them (e.g. a PSNR history pickled under
# Python 2): rebuilt by the stand-ins above from raw bytes, never through numpy's own unpickling.
NUMPY_ALLOWED = {("numpy", "ndarray"): _NDARRAY, ("numpy", "dtype"): _NpDtype,
                 ("_codecs", "encode"): _latin1_encode}
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    NUMPY_ALLOWED.update({(_mod, "_reconstruct"): _np_reconstruct, (_mod, "scalar"): _np_scalar})

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

# Top-level modules whose names are refused outright (rule 2 of the module docstring).
REFUSED_TOP = frozenset(getattr(sys, "stdlib_module_names", ())) | {
    "builtins", "__builtin__", "os", "posix", "nt", "subprocess", "sys", "importlib", "numpy", "paddle"}
# Lower-case torch names that old pickles call to make a plain value; they only make records here.
CALLABLE_RECORDS = {("torch", "device"), ("torch.nn.backends.thnn", "_get_thnn_function_backend")}


class PickledObject:
    """Inert stand-in for an instance of a class named in the pickle (the class is never imported).

    ``qualname`` is the pickled ``module.name``; ``args`` the constructor arguments (``REDUCE`` /
    ``NEWOBJ``), ``state`` what ``BUILD`` set (a module's ``__dict__``: ``_parameters``, ...).
    """
    __slots__ = ("args", "state")
    qualname = "?"

    def __new__(cls, *args, **kwargs):
        self = object.__new__(cls)
        self.args, self.state = args + ((kwargs,) if kwargs else ()), None
        return self

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __reduce__(self):
        raise TypeError("a PickledObject is a read-only record")

    def __repr__(self):
        return f"<pickled {self.qualname}>"

    @property
    def is_module(self):
        st = self.state
        return isinstance(st, dict) and isinstance(st.get("_parameters"), dict) and isinstance(st.get("_modules"), dict)


class PickledReference:
    """Inert stand-in for a function or constant named in the pickle; calling it is refused."""

    def __init__(self, qualname, source):
        self.qualname, self.source = qualname, source

    def __call__(self, *args, **kwargs):
        raise SRError(f"{self.source} calls `{self.qualname}`, which a checkpoint does not need; refused "
                      f"without running it (a .pth is a pickle and could run any code). If you trust the file, "
                      f"load it with PyTorch and save only the state dict: `torch.save(model.state_dict(), OUT)`")

    def __repr__(self):
        return f"<pickled reference {self.qualname}>"


_RECORD_TYPES = {}


def _record_type(module, name):
    key = (module, name)
    if key not in _RECORD_TYPES:
        _RECORD_TYPES[key] = type(name, (PickledObject,), {"__slots__": (), "qualname": f"{module}.{name}"})
    return _RECORD_TYPES[key]


def _is_class_name(name):
    bare = name.lstrip("_")
    return bool(bare) and bare[0].isupper() and "." not in name


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, source, make_storage=None):
        # latin1, as torch.load: a Python 2 `str` (keys, storage keys, numpy raw data, the source code
        # of legacy module ids) is bytes of unknown encoding; latin1 maps each byte to one character.
        super().__init__(file, encoding="latin1")
        self.source, self.make_storage = source, make_storage

    def find_class(self, module, name):
        # Python 2 names (protocol 2 pickles say `__builtin__ set`): the same renaming as
        # pickle.Unpickler.find_class, which this method replaces; a pure name mapping.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        try:
            return ALLOWED[(module, name)]
        except (KeyError, TypeError):
            pass
        if not isinstance(module, str) or not isinstance(name, str):
            raise SRError(f"{self.source} is not a readable PyTorch checkpoint (malformed global)")
        if self.make_storage is not None and (module, name) in NUMPY_ALLOWED:
            return NUMPY_ALLOWED[(module, name)]  # inside the object pickle only, never in a header
        # A header pickle never holds numpy; a file that starts with numpy is paddle.save's (.pdparams).
        if module.split(".")[0] == "numpy" and self.make_storage is None:
            raise SRError(f"{self.source} holds numpy arrays (`{module}.{name}`), not PyTorch tensors: is it a "
                          f"Paddle .pdparams? Those load directly, without conversion (refused, nothing was run)")
        if module.split(".")[0] in REFUSED_TOP or not module or not name:
            raise SRError(f"{self.source} refers to `{module}.{name}`, which a checkpoint does not "
                          f"need; refused without running it (a .pth is a pickle and could run any code). "
                          f"If you trust the file, load it with PyTorch and save only the state dict: "
                          f"`torch.save(model.state_dict(), OUT)`")
        if _is_class_name(name) or (module, name) in CALLABLE_RECORDS:
            return _record_type(module, name)  # never imported: an inert record type
        return PickledReference(f"{module}.{name}", self.source)

    def persistent_load(self, pid):
        if self.make_storage is None:
            raise SRError(f"{self.source}: unexpected storage reference in a header pickle; the file is corrupt")
        if isinstance(pid, tuple) and len(pid) == 4 and pid[0] == "module":
            # legacy whole-model files: ('module', class, source file, source code); the code is ignored
            if isinstance(pid[1], type) and issubclass(pid[1], PickledObject):
                return pid[1]
            raise SRError(f"{self.source}: malformed module reference {pid[1]!r}; refused")
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            kind = pid[0] if isinstance(pid, tuple) and pid else type(pid).__name__
            raise SRError(f"{self.source} holds a pickled {kind!r} object, not tensors; "
                          f"save `model.state_dict()` with PyTorch instead")
        if len(pid) < 5 or not isinstance(pid[1], _StorageType):
            raise SRError(f"{self.source}: unsupported storage reference {pid[:2]!r}; {RESAVE}")
        return self.make_storage(pid)

    def load(self):
        try:
            return super().load()
        except SRError:
            raise
        except _Refused as e:
            raise SRError(f"{self.source}: {e}; refused without running anything from the file") from None
        except Exception as e:  # malformed pickles raise assorted types
            raise SRError(f"{self.source} is not a readable PyTorch checkpoint ({type(e).__name__}: {e})") from None


def _resolve(obj, source, seen=None):
    """Replace recorded tensors by numpy arrays inside dicts, lists, tuples, sets and records."""
    seen = {} if seen is None else seen
    if isinstance(obj, _Tensor):
        return obj.to_numpy(source)
    if isinstance(obj, _NpArray):
        if obj.array is None:
            raise SRError(f"{source}: a numpy array has no data (malformed pickle)")
        return obj.array
    if isinstance(obj, PickledObject):
        if id(obj) not in seen:  # records may be shared (or, in principle, cyclic): resolve each once
            seen[id(obj)] = obj
            obj.args = _resolve(obj.args, source, seen)
            obj.state = _resolve(obj.state, source, seen)
        return obj
    if isinstance(obj, dict):
        out = type(obj)() if isinstance(obj, collections.OrderedDict) else {}
        for k, v in obj.items():
            out[k] = _resolve(v, source, seen)
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve(v, source, seen) for v in obj)
    if isinstance(obj, _Storage):
        return obj.array
    return obj


def _param_array(value, where, source):
    # zip files rebuild parameters with _rebuild_parameter (already an array); older ones may call
    # Parameter(data, requires_grad) itself, which gives a record holding the data.
    if isinstance(value, PickledObject) and value.qualname.endswith(".Parameter") and value.args:
        value = value.args[0]
    if not isinstance(value, np.ndarray):
        raise SRError(f"{source}: {where} of the pickled model is a {type(value).__name__}, not a tensor")
    return value


def module_state_dict(record, source="checkpoint", prefix="", out=None):
    """A pickled module record's flat state dict, named and ordered as ``module.state_dict()``."""
    out = collections.OrderedDict() if out is None else out
    if len(prefix) > 10000:
        raise SRError(f"{source}: the pickled model nests too deep (cyclic modules?)")
    st = record.state
    skip = st.get("_non_persistent_buffers_set") or ()
    for kind in ("_parameters", "_buffers"):
        for k, v in (st.get(kind) or {}).items():
            if v is None or (kind == "_buffers" and k in skip):
                continue
            out[prefix + k] = _param_array(v, prefix + k, source)
    for k, child in st["_modules"].items():
        if child is None:
            continue
        if not (isinstance(child, PickledObject) and child.is_module):
            raise SRError(f"{source}: submodule {prefix + k} of the pickled model is not a module")
        module_state_dict(child, source, f"{prefix}{k}.", out)
    return out


def flatten_modules(obj, source="checkpoint"):
    """Replace every pickled module (at any depth of dicts/lists/tuples) by its flat state dict."""
    if isinstance(obj, PickledObject) and obj.is_module:
        return module_state_dict(obj, source)
    if isinstance(obj, dict):
        out = type(obj)() if isinstance(obj, collections.OrderedDict) else {}
        for k, v in obj.items():
            out[k] = flatten_modules(v, source)
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(flatten_modules(v, source) for v in obj)
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


def read_pth(path, keep_modules=False):
    """Read a PyTorch checkpoint; tensors become numpy arrays, containers stay dicts/lists.

    Pickled modules (``torch.save(model)``) become their flat state dicts (``conv1.weight``, ...);
    with ``keep_modules=True`` they stay ``PickledObject`` records. Raises SRError for a missing
    file, an unsupported format, or a global the rule of the module docstring refuses (nothing
    from the file is imported or executed).
    """
    path = os.fspath(path)
    source = f"checkpoint {path}"
    if not os.path.isfile(path):
        raise SRError(f"{source} does not exist; pass the path of an official .pth/.pt file")
    if zipfile.is_zipfile(path):
        obj = _read_zip(path, source)
    else:
        with open(path, "rb") as f:
            head = f.read(2)
        if head[:1] == b"\x80":  # pickle protocol >= 2: the legacy serialization
            obj = _read_legacy(path, source)
        elif tarfile.is_tarfile(path):
            raise SRError(f"{source} uses the tar format of PyTorch < 0.4, which is unsupported; {RESAVE}")
        else:
            raise SRError(f"{source} is neither a zip nor a legacy PyTorch checkpoint; is it a .pth file?")
    return obj if keep_modules else flatten_modules(obj, source)

"""Read MatConvNet ``.mat`` networks (DagNN, as LapSRN's official ``LapSRN_x{2,4,8}.mat``) into Paddle-layout
weights, with a small pure-numpy MAT v5 reader (no scipy, nothing executed).

MAT v5 (``save -v6`` / ``-v7``; the official LapSRN files are v5, written on PCWIN64 in 2017): a 128-byte
header (text, subsystem offset, version 0x0100, endian mark ``IM``), then data elements, each an 8-byte tag
(type, byte count; a "small" element packs both in 4 bytes and its data in the next 4) padded to 8 bytes.
``miCOMPRESSED`` elements are zlib streams of one more element. An ``miMATRIX`` holds array flags (class,
complex, logical), dimensions, a name, then per class: numeric data (stored in any miINT*/miUINT*/miSINGLE/
miDOUBLE type, cast to the class; column-major), characters (miUTF8/miUTF16/miUINT16...), cell elements or
struct fields (one miMATRIX per element and field, column-major). Sparse arrays, objects, function handles
and complex numbers are refused with SRError. v7.3 files are HDF5: refused with how to re-save them.

Values come back as: numeric -> numpy array of the MATLAB shape (``order='F'``); char -> ``str`` (a char
matrix: list of rows); cell -> numpy object array; struct -> numpy object array of dicts (field -> value).

DagNN (``dagnn.DagNN.saveobj``): ``net.layers`` (name, type, inputs, outputs, params, block) and
``net.params`` (name, value, learningRate, weightDecay). MATLAB drops trailing singleton dimensions
(``input_conv_f`` of size [3 3 1 64] is stored 3x3x64), so each filter is reshaped to its layer's
``block.size`` first. Layouts: ``dagnn.Conv`` filters are H x W x in x out (``vl_nnconv``), and
``dagnn.ConvTranspose`` filters H x W x out x in (``vl_nnconvt``: "FH x FW x K x D", K outputs, D the
input depth); Paddle's Conv2D weight is [out, in, H, W] and Conv2DTranspose's [in, out, H, W], so both
are ``transpose(3, 2, 0, 1)`` (both are cross-correlations / their adjoints, no flip). Names: parameter
``<name>_f`` -> ``<name>.weight``, ``<name>_b`` -> ``<name>.bias`` (``PARAM_SUFFIXES``), the rule the
LapSRN port's names follow.
"""
import os
import struct
import zlib

import numpy as np

from paddle_sr.core.errors import SRError

MI = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8", 13: "u8"}
MI_MATRIX, MI_COMPRESSED, MI_UTF8, MI_UTF16, MI_UTF32 = 14, 15, 16, 17, 18
MX_CELL, MX_STRUCT, MX_OBJECT, MX_CHAR, MX_SPARSE = 1, 2, 3, 4, 5
MX_NUMERIC = {6: "f8", 7: "f4", 8: "i1", 9: "u1", 10: "i2", 11: "u2", 12: "i4", 13: "u4", 14: "i8", 15: "u8"}
PARAM_SUFFIXES = {"_f": "weight", "_b": "bias"}
# Guard against zlib bombs and corrupt sizes: no single MATLAB array here needs more.
MAX_ELEMENT_BYTES = 1 << 31


def is_mat_file(path):
    """True when ``path`` starts with a MATLAB MAT-file header (v5 or v7.3)."""
    try:
        with open(path, "rb") as f:
            return f.read(10) in (b"MATLAB 5.0", b"MATLAB 7.3")
    except OSError:
        return False


class _Reader:
    def __init__(self, data, endian, source):
        self.data, self.e, self.source = data, endian, source

    def fail(self, what):
        raise SRError(f"{self.source} is not a readable MAT v5 file ({what})")

    def elements(self, pos, end):
        """Yield (type, payload bytes) of the data elements in data[pos:end]."""
        while pos < end:
            if end - pos < 8:
                self.fail("truncated element tag")
            typ, nbytes = struct.unpack_from(self.e + "II", self.data, pos)
            if typ >> 16:  # small data element: 2-byte count and type, data in the same 8 bytes
                typ, nbytes = typ & 0xFFFF, typ >> 16
                if nbytes > 4:
                    self.fail("bad small element")
                yield typ, self.data[pos + 4:pos + 4 + nbytes]
                pos += 8
                continue
            start = pos + 8
            if nbytes > MAX_ELEMENT_BYTES or start + nbytes > end:
                self.fail("element runs past the end of the file")
            yield typ, self.data[start:start + nbytes]
            pos = start + nbytes + ((-nbytes) % 8 if typ != MI_COMPRESSED else 0)

    def numbers(self, typ, raw):
        if typ not in MI:
            self.fail(f"unexpected data type {typ}")
        dt = np.dtype(MI[typ]).newbyteorder(self.e)
        if len(raw) % dt.itemsize:
            self.fail("data length is not a multiple of its type")
        return np.frombuffer(raw, dtype=dt)

    def variables(self):
        out = {}
        for typ, raw in self.elements(128, len(self.data)):
            if typ == MI_COMPRESSED:
                try:
                    d = zlib.decompressobj()
                    raw = d.decompress(raw, MAX_ELEMENT_BYTES)
                except zlib.error as e:
                    self.fail(f"corrupt compressed element: {e}")
                sub = _Reader(raw, self.e, self.source)
                items = list(sub.elements(0, len(raw)))
                if len(items) != 1:
                    self.fail("a compressed element holds more than one element")
                typ, raw = items[0]
                reader = sub
            else:
                reader = self
            if typ != MI_MATRIX:
                self.fail(f"top-level element of type {typ}")
            name, value = reader.matrix(raw)
            out[name] = value
        return out

    def matrix(self, raw):
        """An miMATRIX payload -> (name, value)."""
        if not raw:  # an empty placeholder (e.g. an unset cell) is []
            return "", np.zeros((0, 0))
        sub = _Reader(raw, self.e, self.source)
        parts = sub.elements(0, len(raw))
        try:
            (t1, flags), (t2, dims), (t3, name) = next(parts), next(parts), next(parts)
        except StopIteration:
            self.fail("incomplete array header")
        flags = sub.numbers(t1, flags)
        dims = tuple(int(d) for d in sub.numbers(t2, dims))
        if any(d < 0 for d in dims):
            self.fail("negative dimension")
        name = bytes(name).decode("latin-1")
        cls, complex_, logical = int(flags[0]) & 0xFF, bool(int(flags[0]) & 0x800), bool(int(flags[0]) & 0x200)
        n = int(np.prod(dims)) if dims else 0
        if cls in MX_NUMERIC:
            if complex_:
                raise SRError(f"{self.source}: variable {name!r} is complex, which a network file does not hold")
            typ, data = next(parts, (None, None))
            if typ is None:
                self.fail(f"{name!r} has no data")
            arr = sub.numbers(typ, data)
            if arr.size != n:
                self.fail(f"{name!r} has {arr.size} values for dimensions {dims}")
            arr = arr.astype(np.dtype(MX_NUMERIC[cls]).newbyteorder("="))
            return name, (arr.astype(bool) if logical else arr).reshape(dims, order="F")
        if cls == MX_CHAR:
            typ, data = next(parts, (MI_UTF8, b""))
            if typ in (MI_UTF8,):
                text = bytes(data).decode("utf-8", "replace")
            elif typ in (MI_UTF16, 4):  # miUINT16 is MATLAB's usual choice: UTF-16 code units
                text = bytes(data).decode("utf-16-le" if self.e == "<" else "utf-16-be", "replace")
            elif typ in (MI_UTF32,):
                text = bytes(data).decode("utf-32-le" if self.e == "<" else "utf-32-be", "replace")
            elif typ in (1, 2):
                text = bytes(data).decode("latin-1")
            else:
                self.fail(f"char data of type {typ}")
            if len(text) != n:
                self.fail(f"{name!r} has {len(text)} characters for dimensions {dims}")
            if len(dims) == 2 and dims[0] <= 1:
                return name, text
            rows = np.array(list(text), dtype=object).reshape(dims, order="F")
            return name, ["".join(r) for r in rows.reshape(dims[0], -1)]
        if cls == MX_CELL:
            cells = np.empty(n, dtype=object)
            for i in range(n):
                typ, data = next(parts, (None, None))
                if typ != MI_MATRIX:
                    self.fail(f"cell {name!r} is missing element {i}")
                cells[i] = sub.matrix(data)[1]
            return name, cells.reshape(dims, order="F")
        if cls == MX_STRUCT:
            (tl, flen), (tn, fnames) = next(parts), next(parts)
            flen = int(sub.numbers(tl, flen)[0])
            fnames = bytes(fnames)
            if flen <= 0 or len(fnames) % flen:
                self.fail(f"struct {name!r} has malformed field names")
            fields = [fnames[i:i + flen].split(b"\0", 1)[0].decode("latin-1") for i in range(0, len(fnames), flen)]
            elems = np.empty(n, dtype=object)
            for i in range(n):
                rec = {}
                for f in fields:
                    typ, data = next(parts, (None, None))
                    if typ != MI_MATRIX:
                        self.fail(f"struct {name!r} is missing field {f!r} of element {i}")
                    rec[f] = sub.matrix(data)[1]
                elems[i] = rec
            return name, elems.reshape(dims, order="F")
        kind = {MX_OBJECT: "a MATLAB object", MX_SPARSE: "a sparse matrix"}.get(cls, f"array class {cls}")
        raise SRError(f"{self.source}: variable {name!r} is {kind}, which this reader does not handle; in MATLAB, "
                      f"save the network as a plain struct (for DagNN: `net = net.saveobj(); save(OUT, 'net')`)")


def read_mat(path):
    """Variables of a MAT v5 file as a dict name -> value (see the module docstring)."""
    path = os.fspath(path)
    source = f"MAT file {path}"
    if not os.path.isfile(path):
        raise SRError(f"{source} does not exist; pass the path of the official .mat file")
    with open(path, "rb") as f:
        data = f.read()
    if data[:10] == b"MATLAB 7.3" or data[512:520] == b"\x89HDF\r\n\x1a\n":
        raise SRError(f"{source} is a MATLAB v7.3 (HDF5) file, which is unsupported; re-save it in MATLAB "
                      f"with `load(IN); save(OUT, 'net', '-v7')`")
    if len(data) < 128 or not data.startswith(b"MATLAB 5.0"):
        raise SRError(f"{source} is not a MATLAB MAT-file (no 'MATLAB 5.0' header)")
    mark = data[126:128]
    if mark not in (b"IM", b"MI"):
        raise SRError(f"{source} has an unknown endian mark {mark!r}")
    return _Reader(data, "<" if mark == b"IM" else ">", source).variables()


def _items(value):
    """A MATLAB struct array / cell / single value as a flat list."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        return list(value.ravel(order="F"))
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, np.ndarray) and value.size == 0:
        return []
    return [value]


def _strings(value):
    return [v for v in _items(value) if isinstance(v, str)]


class DagNN:
    """A MatConvNet DagNN read from a ``.mat``: ``layers`` (list of dicts with name, type, inputs, outputs,
    params, block) and ``params`` (name -> array in MATLAB layout)."""

    def __init__(self, layers, params, source):
        self.layers, self.params, self.source = layers, params, source

    def layer_of(self, param):
        return next((l for l in self.layers if param in l["params"]), None)

    def state_dict(self):
        """Paddle-layout weights: ``<name>_f`` -> ``<name>.weight`` [out, in, H, W] (Conv2D) or
        [in, out, H, W] (Conv2DTranspose), ``<name>_b`` -> ``<name>.bias``."""
        out = {}
        for pname, value in self.params.items():
            suffix = pname[-2:]
            if suffix not in PARAM_SUFFIXES:
                raise SRError(f"{self.source}: parameter {pname!r} is neither a filter (_f) nor a bias (_b)")
            layer = self.layer_of(pname)
            if layer is None:
                raise SRError(f"{self.source}: parameter {pname!r} is used by no layer")
            value = np.asarray(value, dtype=np.float32)
            if layer["type"] not in ("dagnn.Conv", "dagnn.ConvTranspose"):
                raise SRError(f"{self.source}: layer {layer['name']!r} of type {layer['type']} is not supported "
                              f"(only dagnn.Conv and dagnn.ConvTranspose hold weights here)")
            size = [int(s) for s in np.ravel(layer["block"].get("size", []))]
            if suffix == "_f":
                if len(size) != 4 or int(np.prod(size)) != value.size:
                    raise SRError(f"{self.source}: filter {pname!r} has {value.size} values, its layer says "
                                  f"size {size}")
                value = value.reshape(size, order="F").transpose(3, 2, 0, 1)
            else:
                value = value.ravel(order="F")
            out[f"{pname[:-2]}.{PARAM_SUFFIXES[suffix]}"] = np.ascontiguousarray(value)
        return out

    def geometry(self):
        """Per weight-carrying layer, keyed by its Paddle name prefix: (type, kernel, stride, padding
        [top, bottom, left, right]) — Conv ``pad`` / ConvTranspose ``crop`` and ``upsample``."""
        geo = {}
        for l in self.layers:
            b = l["block"]
            f = next((p for p in l["params"] if p.endswith("_f")), None)
            if f is None or l["type"] not in ("dagnn.Conv", "dagnn.ConvTranspose"):
                continue
            size = [int(s) for s in np.ravel(b.get("size", []))]
            if l["type"] == "dagnn.Conv":
                stride, pad = np.ravel(b.get("stride", [1])), np.ravel(b.get("pad", [0]))
            else:
                stride, pad = np.ravel(b.get("upsample", [1])), np.ravel(b.get("crop", [0]))
            stride = [int(s) for s in (stride if stride.size == 2 else np.repeat(stride, 2))]
            pad = [int(p) for p in (pad if pad.size == 4 else np.repeat(pad, 4))]
            geo[f[:-2]] = (l["type"], size[:2], stride, pad)
        return geo


def read_dagnn(path):
    """The DagNN network saved in ``path`` (variable ``net``, MatConvNet's ``saveobj`` struct)."""
    source = f"MAT file {os.fspath(path)}"
    variables = read_mat(path)
    net = variables.get("net")
    if net is None:
        raise SRError(f"{source} holds {sorted(variables)}, not a MatConvNet network `net`")
    net = _items(net)
    if len(net) != 1 or not isinstance(net[0], dict) or "layers" not in net[0] or "params" not in net[0]:
        raise SRError(f"{source}: `net` is not a MatConvNet DagNN (no layers/params); a SimpleNN network "
                      f"can be turned into one in MATLAB with `dagnn.DagNN.fromSimpleNN`")
    layers = []
    for l in _items(net[0]["layers"]):
        block = l.get("block")
        block = _items(block)[0] if isinstance(block, np.ndarray) and block.dtype == object and block.size else {}
        layers.append({"name": l.get("name"), "type": l.get("type"), "inputs": _strings(l.get("inputs")),
                       "outputs": _strings(l.get("outputs")), "params": _strings(l.get("params")),
                       "block": block if isinstance(block, dict) else {}})
    params = {p["name"]: p["value"] for p in _items(net[0]["params"])}
    return DagNN(layers, params, source)


def check_geometry(model, net, source):
    """SRError unless every Conv / ConvTranspose layer of the file has the same kernel, stride and
    padding (MatConvNet pad / crop, [top, bottom, left, right]) as the Paddle layer of the same name."""
    layers = dict(model.named_sublayers())
    bad = []
    for name, (kind, kernel, stride, pad) in net.geometry().items():
        layer = layers.get(name)
        if layer is None:
            continue  # a missing layer is reported by the key check
        k, s, p = list(layer._kernel_size), list(layer._stride), layer._padding
        p = [int(v) for v in np.ravel(p)]
        p = p * 4 if len(p) == 1 else ([p[0], p[0], p[1], p[1]] if len(p) == 2 else p)
        want_t = kind == "dagnn.ConvTranspose"
        if (type(layer).__name__ == "Conv2DTranspose") != want_t or (k, s, p) != (kernel, stride, pad):
            bad.append(f"{name}: file {kind.split('.')[-1]} kernel {kernel} stride {stride} pad/crop {pad}, "
                       f"model {type(layer).__name__} kernel {k} stride {s} padding {p}")
    if bad:
        raise SRError(f"{source} describes a network whose layers differ from the model's: " + "; ".join(bad[:5]))

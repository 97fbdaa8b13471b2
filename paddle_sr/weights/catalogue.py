"""The catalogue of official checkpoints: one ``Entry`` per file as its authors publish it (URL, sha256,
format, source repository and licence, the model/scale/arguments it fits, the paper's rows), and fetching
the raw file: a local copy (``$PADDLE_SR_WEIGHTS``, ``source=``) checked in place, or a verified download
into ``$PADDLE_SR_HOME/downloads`` (``$PADDLE_SR_MIRROR`` replaces the hosts). Converting it needs the
networks: ``models.pretrained``.
"""
import os
from dataclasses import dataclass, field

from paddle_sr.core import download
from paddle_sr.core.download import home
from paddle_sr.core.errors import SRError


@dataclass(frozen=True)
class Entry:
    """One released checkpoint file and what it is for."""
    id: str
    model: str
    scale: int
    url: str
    sha256: str
    source: str                                  # the authors' repository
    license: str
    paper: dict = field(default_factory=dict)    # {set: (PSNR, SSIM)}, Y, border = scale; SSIM None: not re-checked
    paper_ref: str = ""                          # where the paper numbers come from
    gray: str = "matlab"                         # how the reproduced paper scores gray files (evaluate --gray)
    kwargs: dict = field(default_factory=dict)   # constructor arguments of the registered model
    key: str = None                              # nested entry holding the state dict (convert --key)
    size: int = None

    @property
    def name(self):
        """The file name as published (also what local folders are searched for)."""
        return self.url.rsplit("/", 1)[-1]

    @property
    def md5(self):  # download.fetch checks any digest it is given
        return None


def _rlfn(stem, model, scale, sha, paper):
    return Entry(f"{stem}", model, scale, f"https://github.com/bytedance/RLFN/raw/main/model_zoo/{stem}.pth", sha,
                 "bytedance/RLFN", "Apache-2.0", paper, "RLFN paper Table 1 (arXiv:2205.07514)", gray="basicsr")


_IMDN = "https://github.com/Zheng222/IMDN/raw/master/checkpoints/"


_CARN_M = "https://github.com/nmhkahn/CARN-pytorch/raw/master/checkpoint/carn_m.pth"


_CARN_M_SHA = "d48a759a84509351facb6b7c6d5bd6edec98b98519b8c464ee4ab44d2ba964ff"


# LapSRN's README loads pretrained_models/LapSRN_x{2,4,8}.mat. A snapshot of the repository (master at
# 95154bb, 2017-12-09) holds the three files (added in 08ba454); their sha256 below are of those blobs
# (x2 and x4 also match ../shared/weights/lapsrn). The URL itself was not fetched from this machine; the
# checksum pins the file wherever it is found (a local copy: $PADDLE_SR_WEIGHTS or source=).
_LAPSRN = "https://github.com/phoenix104104/LapSRN/raw/master/pretrained_models/"


_CARN_M_PAPER = "CARN paper Table 2 (arXiv:1803.08664)"


ENTRIES = [
    _rlfn("rlfn_x2", "rlfn", 2, "eafe5d5feeb122022453595c06d79160facdc157ae88deb02a44c50f5eba2d41",
          {"Set5": (38.07, None), "Set14": (33.72, None), "B100": (32.22, None), "Urban100": (32.33, None)}),
    _rlfn("rlfn_x4", "rlfn", 4, "8c7edb57dfc89048bafba29d591d4c27d4099964b4a9e22df23d6dc257a637c0",
          {"Set5": (32.24, None), "Set14": (28.62, None), "B100": (27.60, None), "Urban100": (26.17, None)}),
    _rlfn("rlfn_s_x2", "rlfn_s", 2, "f5175f499f869c1b884c2552a1bcd6abd07ab352e3d8c8c9abe31b1deb60fe45",
          {"Set5": (38.05, None), "Set14": (33.68, None), "B100": (32.19, None)}),
    _rlfn("rlfn_s_x4", "rlfn_s", 4, "f769c5a88433786b2db0c2b24da6ca6c92a24c62344b9354a390f8a74388e89d",
          {"Set5": (32.23, None), "Set14": (28.61, None), "B100": (27.58, None)}),
    _rlfn("rlfn_ntire_x4", "rlfn_ntire", 4, "3c9be7b9d7a4bece9b68c83a56a1ffb38010f76413d5f215be6b4be842e18fb2", {}),
    Entry("imdn_x2", "imdn", 2, _IMDN + "IMDN_x2.pth",
          "740b39653592bd3f49955a21cd9e16f2d37f2c413368cc09327601b8fbe42ce1", "Zheng222/IMDN", "see the repository",
          {"Set5": (38.00, None), "Set14": (33.63, None), "B100": (32.19, None)},
          "IMDN paper Table 3 (arXiv:1909.11856)", gray="basicsr"),
    Entry("imdn_x4", "imdn", 4, _IMDN + "IMDN_x4.pth",
          "e660c38221147217a136debeb99eb304d62d9c0f73ac421ed66281b619719714", "Zheng222/IMDN", "see the repository",
          {"Set5": (32.21, None), "Set14": (28.58, None), "B100": (27.56, None)},
          "IMDN paper Table 3 (arXiv:1909.11856)", gray="basicsr"),
    # One multi-scale file; each scale keeps its own upsampler branch. The numbers are the official code's
    # with its uint8 output (issue 12: paper x2 37.53 / 33.26 / 31.92, x3 33.99 / 30.08 / 28.91, x4 31.92 /
    # 28.42 / 27.44 - the released weights score the rows below, Set14 the BasicSR way).
    Entry("carn_m_x2", "carn_m", 2, _CARN_M, _CARN_M_SHA, "nmhkahn/CARN-pytorch", "MIT",
          {"Set5": (37.68, None), "Set14": (33.30, None), "B100": (31.98, None)},
          "official code + weights, rounded output (paper: " + _CARN_M_PAPER + ")", gray="basicsr"),
    Entry("carn_m_x3", "carn_m", 3, _CARN_M, _CARN_M_SHA, "nmhkahn/CARN-pytorch", "MIT",
          {"Set5": (34.06, None), "Set14": (30.10, None), "B100": (28.94, None)},
          "official code + weights, rounded output (paper: " + _CARN_M_PAPER + ")", gray="basicsr"),
    Entry("carn_m_x4", "carn_m", 4, _CARN_M, _CARN_M_SHA, "nmhkahn/CARN-pytorch", "MIT",
          {"Set5": (31.88, None), "Set14": (28.42, None), "B100": (27.45, None)},
          "official code + weights, rounded output (paper: " + _CARN_M_PAPER + ")", gray="basicsr"),
    # LapSRN's numbers score Set14 bridge.png as an RGB file (gray="basicsr"): test_LapSRN.m / evaluate_SR.m
    # take Y via rgb2ycbcr only for a 3-channel image, and the paper's Set14 rows are met exactly that way
    # (x2 33.084, x4 28.187 measured by the MATLAB protocol; its gray values as Y give 32.990 / 28.093).
    Entry("lapsrn_x2", "lapsrn", 2, _LAPSRN + "LapSRN_x2.mat",
          "e368225004e2d5e49d772c5c4eb16c3f28f7fe3b68fec7a9bb91f55e25602baa", "phoenix104104/LapSRN", "MIT",
          {"Set5": (37.52, None), "Set14": (33.08, None), "B100": (31.80, None)},
          "LapSRN paper Table 4 (arXiv:1704.03915)", gray="basicsr"),
    Entry("lapsrn_x4", "lapsrn", 4, _LAPSRN + "LapSRN_x4.mat",
          "1d845a3efdca8848968df9e216931419e3b1122373a233d612b4f599985e6367", "phoenix104104/LapSRN", "MIT",
          {"Set5": (31.54, None), "Set14": (28.19, None), "B100": (27.32, None)},
          "LapSRN paper Table 4 (arXiv:1704.03915)", gray="basicsr"),
    # d = 5 per level (the file's 47 arrays; models.lapsrn.default_depth). Paper x8 rows as quoted next to
    # its x4 rows (31.54 / 28.19 / 27.32, which match the entry above); Urban100 x8 not re-checked, left out.
    Entry("lapsrn_x8", "lapsrn", 8, _LAPSRN + "LapSRN_x8.mat",
          "a887221465fe22ebda8ad5963cf812db807e7a9aa8e9d9453aee60e237af5e10", "phoenix104104/LapSRN", "MIT",
          {"Set5": (26.14, None), "Set14": (24.44, None), "B100": (24.54, None)},
          "LapSRN paper Table 4 (arXiv:1704.03915)", gray="basicsr"),
]


BY_ID = {e.id: e for e in ENTRIES}


def converted_path(e):
    return os.path.join(home(), "pretrained", f"{e.id}.pdparams")


def weights_env():
    """The entries of ``$PADDLE_SR_WEIGHTS``; SRError naming the variable when one does not exist (a typo
    there would otherwise be ignored in silence and the file downloaded, or reported missing)."""
    places = [p for p in os.environ.get("PADDLE_SR_WEIGHTS", "").split(os.pathsep) if p]
    for place in places:
        if not os.path.exists(os.path.expanduser(place)):
            raise SRError(f"PADDLE_SR_WEIGHTS names {place}, which does not exist; fix the variable (files or "
                          f"folders holding the published checkpoints, separated by {os.pathsep!r}) or unset it")
    return places


def check_cache_writable(folder=None):
    """SRError naming ``$PADDLE_SR_HOME`` unless the weights cache can be written (checked before a download)."""
    from paddle_sr.core.files import check_writable

    folder = folder or home()
    try:
        check_writable(folder, "the weights cache", folder=True)
    except SRError as e:
        raise SRError(f"{e}. Downloaded and converted weights are cached in $PADDLE_SR_HOME (default "
                      f"~/.cache/paddle_sr): set PADDLE_SR_HOME to a folder you can write to") from None


def _local(e, source):
    """A local copy of ``e``'s file: ``source`` or ``$PADDLE_SR_WEIGHTS`` (files or folders), else None."""
    places = [source] if source else weights_env()
    for place in places:
        place = os.path.expanduser(os.fspath(place))
        if os.path.isfile(place):
            return place
        for root, _, files in os.walk(place):
            if e.name in files:
                return os.path.join(root, e.name)
    if source:
        raise SRError(f"{source} holds no {e.name}; pass the file itself or a folder containing it")
    return None


def _raw_file(e, source=None):
    """The verified raw checkpoint: a local copy (checked in place) or a download into HOME/downloads."""
    local = _local(e, source)
    if local is not None:
        problem = download.check_file(local, e.size, e.sha256)
        if problem:
            raise SRError(f"{local} is not the published {e.name} ({problem}); it was tampered with, damaged or is "
                          f"another file. Remove it from {source or '$PADDLE_SR_WEIGHTS'} to download the original")
        return local
    mirror = os.environ.get("PADDLE_SR_MIRROR")
    target = e if not mirror else _Mirrored(e, mirror.rstrip("/") + "/" + e.name)
    check_cache_writable()
    # The messages of download.fetch name the URL it tried once; the authors' own is added only when a mirror
    # was tried instead.
    origin = f" from {e.url}" if mirror else ""
    return os.fspath(download.fetch(target, os.path.join(home(), "downloads"), elsewhere=(
        f"download it yourself{origin} and point $PADDLE_SR_WEIGHTS (or source=) at the folder holding it")))


@dataclass(frozen=True)
class _Mirrored:
    entry: Entry
    url: str

    def __getattr__(self, name):
        return getattr(self.entry, name)

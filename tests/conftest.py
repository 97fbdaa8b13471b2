import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


@pytest.fixture(scope="session")
def shared():
    """The read-only ../shared folder (benchmarks, official RLFN weights); skip if absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside the checkout")
    return SHARED


@pytest.fixture(autouse=True)
def _own_export_cache(monkeypatch, tmp_path_factory):
    """Each test its own export cache (paddle_sr.export_cache): never the user's ~/.cache, and no test sees
    another's exports (tests that count exports would otherwise depend on the order they run in)."""
    monkeypatch.setenv("PADDLE_SR_EXPORT_CACHE", str(tmp_path_factory.mktemp("export_cache")))

import shutil
from pathlib import Path

import pytest

from external import skip_if_missing

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def pytest_configure(config):
    config.addinivalue_line("markers", "needs(*programs): the test runs these external programs")


def pytest_collection_modifyitems(config, items):
    skip_if_missing(items)


@pytest.fixture
def demo(tmp_path, monkeypatch):
    """A copy of samples/demo.xlsx to change, exported at the golden files' time (2026-04-02 09:00
    UTC; every export of one test in the same second: ids must still differ)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1775120400")
    path = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", path)
    return path

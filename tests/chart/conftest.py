"""Fixtures of the chart tests: the chart rendered once per value set and test process."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # chart_helpers.py

from chart_helpers import VALUE_SETS, render  # noqa: E402


@pytest.fixture(scope="session")
def rendered() -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Objects per value set, rendered once per test process."""
    yield {name: render(values) for name, values in VALUE_SETS.items()}

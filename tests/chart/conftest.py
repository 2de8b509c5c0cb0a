"""Fixtures of the chart tests: the chart rendered once per value set and test process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.chart import VALUE_SETS, render


@pytest.fixture(scope="session")
def rendered() -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Objects per value set, rendered once per test process."""
    yield {name: render(values) for name, values in VALUE_SETS.items()}

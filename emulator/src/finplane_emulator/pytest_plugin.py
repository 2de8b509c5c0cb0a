"""The pytest plugin of finplane-emulator (entry point `pytest11`): a real API server per test or module.

Loaded by pytest in any environment where the distribution is installed. Fixtures:

- `emulator`: a fresh server process for one test (an `ApiServerHandle`: `url`, `kubeconfig`,
  `stats()`, `set_faults()`, `fail_deployment()`, `stop()`), stopped afterwards;
- `module_emulator`: one server for a whole module (tests there must use distinct names);
- `emulator_factory`: a function starting more servers (`emulator_factory(faults=True)`), all stopped
  at the end of the test.

`@pytest.mark.emulator(faults=True, env={...}, data_dir=...)` on a test, class or module sets the
arguments of `emulator` / `module_emulator` (those of `testing.start_apiserver`). The fixtures start
the server as a subprocess, so importing this plugin imports no server code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from finplane_emulator.testing import ApiServerHandle, start_apiserver

__all__ = ["emulator", "emulator_factory", "module_emulator"]

Factory = Callable[..., ApiServerHandle]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "emulator(faults=False, env=None, data_dir=None): arguments of the emulator fixtures")


def _marker_kwargs(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("emulator")
    return dict(marker.kwargs) if marker else {}


@pytest.fixture
def emulator_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Factory]:
    """Start servers on demand; every one started is stopped when the test ends."""
    started: list[ApiServerHandle] = []

    def start(**kwargs: Any) -> ApiServerHandle:
        handle = start_apiserver(tmp_path_factory.mktemp("emulator"), **kwargs)
        started.append(handle)
        return handle

    yield start
    for handle in reversed(started):
        handle.stop()


@pytest.fixture
def emulator(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerHandle]:
    """A fresh API server for this test."""
    with start_apiserver(tmp_path_factory.mktemp("emulator"), **_marker_kwargs(request)) as handle:
        yield handle


@pytest.fixture(scope="module")
def module_emulator(request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerHandle]:
    """One API server for the whole module."""
    with start_apiserver(tmp_path_factory.mktemp("emulator"), **_marker_kwargs(request)) as handle:
        yield handle

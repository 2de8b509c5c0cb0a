"""Every chart value is documented by a comment starting with its name, and the values table in the
chart's README is exactly what hack/values_table.py generates from those comments."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.support.chart import CHART


def values_table() -> ModuleType:
    spec = importlib.util.spec_from_file_location("finplane_chart_values_table", CHART / "hack" / "values_table.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_every_value_has_a_comment_starting_with_its_name() -> None:
    parsed = values_table().parse((CHART / "values.yaml").read_text())
    assert len(parsed) > 50
    assert [v.path for v in parsed if not v.documented] == []


def test_the_readme_values_table_is_current() -> None:
    vt = values_table()
    readme = (CHART / "README.md").read_text()
    expected = vt.render_readme(readme, vt.parse((CHART / "values.yaml").read_text()))
    assert readme == expected, "run: python charts/finplane/hack/values_table.py --write"


def test_an_undocumented_value_is_reported() -> None:
    parsed = values_table().parse("image:\n  # repository of the image.\n  repository: x\n  tag: v1\n")
    assert [(v.path, v.documented) for v in parsed] == [("image.repository", True), ("image.tag", False)]

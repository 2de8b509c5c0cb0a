"""The chart ships exactly the repository's generated Finplane CRDs (byte for byte, kept so by
hack/sync_crds.py) plus kopf's peering CRDs under the names kopf itself looks for."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import helm_python as helm
import yaml

from tests.support.chart import CHART, REPO


def test_the_chart_crds_are_identical_to_the_generated_crds() -> None:
    generated = {p.name: p.read_bytes() for p in (REPO / "crds").glob("*.yaml")}
    assert generated, "the repository's crds/ is empty: run `finplane crds`"
    shipped = {p.name: p.read_bytes() for p in (CHART / "crds").glob("finplane.io_*.yaml")}
    assert sorted(shipped) == sorted(generated), "run: python charts/finplane/hack/sync_crds.py"
    stale = [name for name in generated if shipped[name] != generated[name]]
    assert stale == [], "run: python charts/finplane/hack/sync_crds.py"


def test_helm_loads_every_crd_of_the_chart() -> None:
    with helm.Chart.load(CHART) as chart:
        names = {c["filename"].rsplit("/", 1)[-1] for c in chart.crds}
    assert names == {p.name for p in (CHART / "crds").glob("*.yaml")}


def test_the_peering_crds_match_the_resources_kopf_watches() -> None:
    from kopf._cogs.structs import references

    crds = {d["spec"]["names"]["plural"]: d for d in yaml.safe_load_all((CHART / "crds/kopf.dev_peerings.yaml").read_text())}
    for selector, scope in ((references.CLUSTER_PEERINGS_K, "Cluster"), (references.NAMESPACED_PEERINGS_K, "Namespaced")):
        crd = crds[selector.any_name]
        assert f"{crd['spec']['group']}/{crd['spec']['versions'][0]['name']}" == f"{selector.group}/{selector.version}"
        assert crd["spec"]["scope"] == scope
        # kopf writes the keep-alives into `status` of the object itself: no status subresource.
        assert "subresources" not in crd["spec"]["versions"][0]


def test_the_sync_script_copies_new_and_removes_stale_crds(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("finplane_chart_sync_crds", CHART / "hack" / "sync_crds.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    source, target = tmp_path / "src", tmp_path / "dst"
    source.mkdir()
    target.mkdir()
    (source / "finplane.io_channels.yaml").write_text("kind: CustomResourceDefinition\n")
    (target / "finplane.io_gone.yaml").write_text("old\n")
    (target / "kopf.dev_peerings.yaml").write_text("kopf\n")
    assert module.sync(source, target) == ["removed finplane.io_gone.yaml", "copied finplane.io_channels.yaml"]
    assert sorted(p.name for p in target.iterdir()) == ["finplane.io_channels.yaml", "kopf.dev_peerings.yaml"]
    assert module.sync(source, target) == []

"""The chart gives every evidence writer durable storage and one signing key (rendered with the real Helm).

Covers: with the defaults (2 operator replicas, the API on), every operator and API pod mounts the same
ReadWriteMany PersistentVolumeClaim at the evidence folder (no evidence on an emptyDir), names its own chain
after its pod (FINPLANE_EVIDENCE_WRITER from metadata.name) and signs with the release's key Secret; the claim
survives an uninstall; `evidence.persistence.existingClaim` mounts the bank's own claim and renders none; the
key's RBAC lets both create Secrets in the release namespace only and read no Secret but the key, and only the
operator may write the public-key ConfigMap.
"""

from __future__ import annotations

from typing import Any

from tests.support.chart import find, render

Obj = dict[str, Any]
EVIDENCE_DIR = "/var/lib/finplane/evidence"


def pod(objects: list[Obj], name: str) -> Obj:
    return dict(find(objects, "Deployment", name)[0]["spec"]["template"]["spec"])


def test_every_writer_mounts_one_durable_claim_and_names_its_own_chain() -> None:
    objects = render({})
    [claim] = find(objects, "PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "finplane-evidence"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert find(objects, "Deployment", "finplane-operator")[0]["spec"]["replicas"] == 2
    for name in ("finplane-operator", "finplane-api"):
        spec = pod(objects, name)
        volumes = {v["name"]: v for v in spec["volumes"]}
        [container] = spec["containers"]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert volumes[mounts[EVIDENCE_DIR]]["persistentVolumeClaim"] == {"claimName": "finplane-evidence"}, name
        env = {e["name"]: e for e in container["env"]}
        assert env["FINPLANE_EVIDENCE_WRITER"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}, name
        assert env["FINPLANE_EVIDENCE_KEY_SECRET"]["value"].endswith("/finplane-evidence-key"), name
    assert {e["name"]: e.get("value") for e in pod(objects, "finplane-api")["containers"][0]["env"]}[
        "FINPLANE_EVIDENCE_DIR"] == EVIDENCE_DIR


def test_an_existing_claim_is_mounted_and_none_is_rendered() -> None:
    objects = render({"evidence": {"persistence": {"existingClaim": "bank-evidence-efs"}}})
    assert find(objects, "PersistentVolumeClaim") == []
    for name in ("finplane-operator", "finplane-api"):
        [evidence] = [v for v in pod(objects, name)["volumes"] if v["name"] == "evidence"]
        assert evidence["persistentVolumeClaim"] == {"claimName": "bank-evidence-efs"}


def test_the_key_rbac_reads_only_the_key_secret_and_only_the_operator_publishes() -> None:
    objects = render({})
    [key_role] = find(objects, "Role", "finplane-evidence-key")
    reads = [r for r in key_role["rules"] if "get" in r["verbs"]]
    assert reads == [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["finplane-evidence-key"],
                      "verbs": ["get"]}]
    assert all(r["verbs"] in (["create"], ["get"]) for r in key_role["rules"])  # no list, watch, update, delete
    [binding] = find(objects, "RoleBinding", "finplane-evidence-key")
    assert {s["name"] for s in binding["subjects"]} == {"finplane-operator", "finplane-api"}
    [publish] = find(objects, "RoleBinding", "finplane-evidence-public-key")
    assert [s["name"] for s in publish["subjects"]] == ["finplane-operator"]

"""Switching off a compliance feature in the chart tells the operator, not only RBAC.

Covers: with features.policyReports / features.admissionPolicies false, the operator ConfigMap carries
FINPLANE_POLICY_REPORTS_ENABLED / FINPLANE_ADMISSION_POLICIES_ENABLED = "false" (which the operator's
settings read as off) and the ClusterRole grants nothing of those groups; by default both are "true".
"""

from __future__ import annotations

from typing import Any

import pytest

from finplane.settings import Settings
from tests.support.chart import find, render

Obj = dict[str, Any]


def operator_settings(objects: list[Obj], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key, value in (find(objects, "ConfigMap", "finplane-operator")[0]["data"] or {}).items():
        monkeypatch.setenv(key, value)
    return Settings()


def granted_groups(objects: list[Obj]) -> set[str]:
    return {g for r in find(objects, "ClusterRole", "finplane-operator")[0]["rules"] for g in r["apiGroups"]}


def test_switched_off_features_switch_off_the_operators_writes_and_their_grants(
        monkeypatch: pytest.MonkeyPatch) -> None:
    objects = render({"features": {"policyReports": False, "admissionPolicies": False}})
    settings = operator_settings(objects, monkeypatch)
    assert settings.policy_reports_enabled is False and settings.admission_policies_enabled is False
    assert granted_groups(objects) & {"wgpolicyk8s.io", "admissionregistration.k8s.io"} == set()


def test_by_default_the_operator_writes_reports_and_admission_policies(
        rendered: dict[str, list[Obj]], monkeypatch: pytest.MonkeyPatch) -> None:
    settings = operator_settings(rendered["default"], monkeypatch)
    assert settings.policy_reports_enabled is True and settings.admission_policies_enabled is True

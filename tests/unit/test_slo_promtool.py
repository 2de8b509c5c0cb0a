"""The rendered SLO rules, judged by Prometheus itself: `promtool check rules` and `promtool test rules`.

Covers: the PrometheusRule's groups are valid rule files for Prometheus; on synthetic series a burn far over
budget pages the owner (labels carry team, contact, capability and namespace for Alertmanager routing), a
slow burn opens a ticket but does not page, a healthy service (errors within budget) fires nothing; the
error-budget recording rules say how much budget is left; latency alerts use the histogram bucket of the
threshold; the burn-rate factors are the SRE workbook's for 30 days. `promtool` comes from Debian's
`prometheus` package (`make debs`); without it the test fails (CI installs it), it is never skipped.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.render.slo import BURN_WINDOWS, burn_factor, render_slo, rule_groups
from finplane.settings import Settings

NS, NAME = "payments", "payments-api"
SEL = f'namespace="{NS}",service="{NAME}"'


def spec(**slo: Any) -> BusinessCapabilitySpec:
    return BusinessCapabilitySpec.model_validate({
        "owner": {"team": "payments", "contact": "payments-oncall@bank.example"}, "domain": "payments",
        "image": "registry.finplane.local/payments/api:1.0.0",
        "slo": slo or {"availability": {"objectivePercent": "99.9"},
                       "latency": {"objectivePercent": "99", "thresholdMilliseconds": 300}}})


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: run `make debs` (Debian package prometheus)"
    return path


def write_rules(tmp_path: Path, s: BusinessCapabilitySpec) -> Path:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": rule_groups(name=NAME, namespace=NS, spec=s)}, sort_keys=False))
    return rules


def run_test(tmp_path: Path, s: BusinessCapabilitySpec, *, series: list[dict[str, str]], eval_time: str,
             alerts: dict[str, list[dict[str, Any]]], exprs: list[dict[str, Any]] | None = None,
             evaluation_interval: str = "1m") -> subprocess.CompletedProcess[str]:
    """`promtool test rules` with `series` over 1m steps, expecting exactly `alerts` (name -> alerts) at eval_time."""
    rules = write_rules(tmp_path, s)
    test = {"rule_files": [rules.name], "evaluation_interval": evaluation_interval, "tests": [{
        "interval": "1m", "input_series": series,
        "alert_rule_test": [{"eval_time": eval_time, "alertname": a, "exp_alerts": exp} for a, exp in alerts.items()],
        "promql_expr_test": exprs or []}]}
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    return subprocess.run([promtool(), "test", "rules", path.name], cwd=tmp_path, capture_output=True, text=True,
                          check=False, timeout=120)


def traffic(*, per_minute: int, errors_per_minute: int, minutes: int) -> list[dict[str, str]]:
    """A counter of requests (200s and 500s) growing steadily for `minutes`."""
    ok = per_minute - errors_per_minute
    return [{"series": f'http_requests_total{{{SEL},code="200"}}', "values": f"0+{ok}x{minutes}"},
            {"series": f'http_requests_total{{{SEL},code="500"}}', "values": f"0+{errors_per_minute}x{minutes}"}]


def expected(s: BusinessCapabilitySpec, alert: str, severity: str) -> list[dict[str, Any]]:
    """The alert as the rendering defines it (labels and annotations taken from the rendered rule)."""
    rule = next(r for g in rule_groups(name=NAME, namespace=NS, spec=s) for r in g["rules"]
                if r.get("alert") == alert and r["labels"]["severity"] == severity)
    return [{"exp_labels": dict(rule["labels"]), "exp_annotations": dict(rule["annotations"])}]


def test_rendered_rules_pass_promtool_check_rules(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, spec())
    done = subprocess.run([promtool(), "check", "rules", str(rules)], capture_output=True, text=True, check=False,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr


def test_promtool_check_rules_rejects_a_broken_expression(tmp_path: Path) -> None:
    """The check is not a rubber stamp: a rule with invalid PromQL fails it."""
    groups = rule_groups(name=NAME, namespace=NS, spec=spec())
    groups[0]["rules"][0]["expr"] = "sum(rate(http_requests_total[5m])"
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": groups}))
    done = subprocess.run([promtool(), "check", "rules", str(rules)], capture_output=True, text=True, check=False,
                          timeout=60)
    assert done.returncode != 0


def test_a_fast_burn_pages_the_owner_within_the_hour(tmp_path: Path) -> None:
    s = spec(availability={"objectivePercent": "99.9"})
    # 5% errors against a 0.1% budget: a 50x burn, over 14.4x (1h/5m) and 6x (6h/30m), and the tickets' 3x too
    both = expected(s, "CapabilityAvailabilityBudgetBurn", "page") + \
        expected(s, "CapabilityAvailabilityBudgetBurn", "ticket")
    done = run_test(tmp_path, s, series=traffic(per_minute=1000, errors_per_minute=50, minutes=120), eval_time="65m",
                    alerts={"CapabilityAvailabilityBudgetBurn": both})
    assert done.returncode == 0, done.stdout + done.stderr
    labels = both[0]["exp_labels"]
    assert (labels["team"], labels["contact"], labels["capability"], labels["namespace"]) == \
        ("payments", "payments-oncall@bank.example", NAME, NS)


def test_expecting_no_page_during_a_fast_burn_fails(tmp_path: Path) -> None:
    """The harness can fail: claiming only a ticket fires during a 50x burn is refused by promtool."""
    s = spec(availability={"objectivePercent": "99.9"})
    done = run_test(tmp_path, s, series=traffic(per_minute=1000, errors_per_minute=50, minutes=120), eval_time="65m",
                    alerts={"CapabilityAvailabilityBudgetBurn": expected(s, "CapabilityAvailabilityBudgetBurn",
                                                                         "ticket")})
    assert done.returncode != 0
    assert "page" in done.stdout + done.stderr


def test_a_slow_burn_opens_a_ticket_but_does_not_page(tmp_path: Path) -> None:
    s = spec(availability={"objectivePercent": "99.9"})
    # 0.4% errors: a 4x burn, over the ticket's 3x (1d/2h) and under the page's 6x and 14.4x
    # a day of it (rules evaluated every 5 minutes, as a busy Prometheus might: fewer steps, same verdict)
    done = run_test(tmp_path, s, series=traffic(per_minute=1000, errors_per_minute=4, minutes=1500),
                    eval_time="1450m", evaluation_interval="5m",
                    alerts={"CapabilityAvailabilityBudgetBurn": expected(s, "CapabilityAvailabilityBudgetBurn",
                                                                         "ticket")})
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_healthy_service_fires_nothing_and_keeps_budget(tmp_path: Path) -> None:
    s = spec(availability={"objectivePercent": "99.9"})
    # 0.05% errors for a day: half the budget's pace, nothing may fire, not even the 3-day ticket
    sel = f'namespace="{NS}",capability="{NAME}",slo="availability"'
    done = run_test(tmp_path, s, series=traffic(per_minute=2000, errors_per_minute=1, minutes=1500),
                    eval_time="1450m", evaluation_interval="5m", alerts={"CapabilityAvailabilityBudgetBurn": []},
                    exprs=[{"expr": f"finplane_slo:error:ratio_rate30d{{{sel}}} < bool 0.001",
                            "eval_time": "1450m",
                            "exp_samples": [{"labels": f"{{{sel}}}", "value": 1}]},
                           {"expr": f"finplane_slo:error_budget_remaining:ratio{{{sel}}} > bool 0.4",
                            "eval_time": "1450m",
                            "exp_samples": [{"labels": f"{{{sel}}}", "value": 1}]}])
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_burning_service_sees_its_budget_overspent(tmp_path: Path) -> None:
    s = spec(availability={"objectivePercent": "99.9"})
    sel = f'namespace="{NS}",capability="{NAME}",slo="availability"'
    done = run_test(tmp_path, s, series=traffic(per_minute=1000, errors_per_minute=50, minutes=120), eval_time="65m",
                    alerts={}, exprs=[{"expr": f"finplane_slo:error_budget_remaining:ratio{{{sel}}} < bool 0",
                                       "eval_time": "65m", "exp_samples": [{"labels": f"{{{sel}}}", "value": 1}]}])
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("threshold", "le"), [(300, "0.3"), (1000, "1"), (1000, "1.0")],
                         ids=["300ms", "1s-go-client", "1s-python-client"])
def test_slow_requests_page_on_latency_and_fast_ones_do_not(tmp_path: Path, threshold: int, le: str) -> None:
    s = spec(latency={"objectivePercent": "99", "thresholdMilliseconds": threshold})

    def histogram(fast: int, total: int) -> list[dict[str, str]]:
        return [{"series": f'http_request_duration_seconds_bucket{{{SEL},le="{le}"}}', "values": f"0+{fast}x120"},
                {"series": f'http_request_duration_seconds_bucket{{{SEL},le="+Inf"}}', "values": f"0+{total}x120"},
                {"series": f'http_request_duration_seconds_count{{{SEL}}}', "values": f"0+{total}x120"}]

    slow = expected(s, "CapabilityLatencyBudgetBurn", "page") + expected(s, "CapabilityLatencyBudgetBurn", "ticket")
    done = run_test(tmp_path, s, series=histogram(fast=700, total=1000), eval_time="65m",
                    alerts={"CapabilityLatencyBudgetBurn": slow})
    assert done.returncode == 0, done.stdout + done.stderr
    done = run_test(tmp_path, s, series=histogram(fast=999, total=1000), eval_time="65m",
                    alerts={"CapabilityLatencyBudgetBurn": []})
    assert done.returncode == 0, done.stdout + done.stderr


def test_burn_factors_are_the_sre_workbooks_for_thirty_days_and_scale_with_the_window() -> None:
    assert [str(burn_factor(w, 30)) for w in BURN_WINDOWS] == ["14.4", "6", "3", "1"]
    assert [str(burn_factor(w, 28)) for w in BURN_WINDOWS] == ["13.44", "5.6", "2.8", "0.9333"]


def test_the_prometheus_rule_carries_the_monitoring_labels_and_the_monitor_scrapes_the_service() -> None:
    settings = Settings(monitoring_labels={"release": "kube-prometheus-stack"})
    monitor, rule = render_slo(name=NAME, namespace=NS, spec=spec(), settings=settings)
    assert (monitor["kind"], rule["kind"]) == ("ServiceMonitor", "PrometheusRule")
    assert monitor["metadata"]["labels"]["release"] == rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s", "scheme": "http"}]
    assert monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == NAME
    assert {g["name"].rsplit(".", 1)[1] for g in rule["spec"]["groups"]} == {"availability", "latency"}

"""The partner usage recording rules (render.gateway_metering), run by Prometheus's own `promtool test rules`.

Covers: on synthetic rate limit service counters, two partners' calls are recorded per partner as calls
per second and as calls over the rolling month, a counter reset (a restarted rate limit service) does not
lose or double the usage, a series without a sandbox client id (another team's rate limit) is not billed
to anyone, and the rendered PrometheusRule carries exactly these groups. promtool comes from Debian's
`prometheus` package, installed by `make debs` (make test): a missing promtool is a failure, not a skip.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from finplane.render.gateway_metering import metering_groups, metering_rule

SERIES = "ratelimit_service_rate_limit_total_hits"


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: `make debs` installs Debian's prometheus package"
    return found


def test_usage_is_recorded_per_partner_per_second_and_per_rolling_month(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": metering_groups()}), encoding="utf-8")
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            # acme calls 60 times a minute on two routes (two descriptors), globex 6 times a minute; acme's
            # second counter restarts at minute 30 (the rate limit service was restarted).
            {"series": f'{SERIES}{{domain="gw", key1="kyc", key2="acme--dev"}}', "values": "0+30x60"},
            {"series": f'{SERIES}{{domain="gw", key1="ledger", key2="acme--dev"}}',
             "values": "0+30x30 0+30x30"},
            {"series": f'{SERIES}{{domain="gw", key1="kyc", key2="globex--dev"}}', "values": "0+6x60"},
            {"series": f'{SERIES}{{domain="gw", key1="other-team"}}', "values": "0+1000x60"},
        ],
        "promql_expr_test": [
            {"expr": "finplane:partner_api_requests:rate5m", "eval_time": "60m", "exp_samples": [
                {"labels": 'finplane:partner_api_requests:rate5m{partner="acme--dev"}', "value": 1.0},
                {"labels": 'finplane:partner_api_requests:rate5m{partner="globex--dev"}', "value": 0.1}]},
            {"expr": "finplane:partner_api_requests:increase30d", "eval_time": "60m", "exp_samples": [
                {"labels": 'finplane:partner_api_requests:increase30d{partner="acme--dev"}', "value": 3570},
                {"labels": 'finplane:partner_api_requests:increase30d{partner="globex--dev"}', "value": 360}]},
        ],
    }]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False), encoding="utf-8")
    cp = subprocess.run([promtool(), "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True,
                        timeout=120, check=False)
    assert cp.returncode == 0, cp.stdout + cp.stderr


def test_the_rules_pass_promtools_own_check_and_the_prometheus_rule_carries_them(tmp_path: Path) -> None:
    rule = metering_rule(namespace="monitoring")
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert rule["spec"]["groups"] == metering_groups()
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}), encoding="utf-8")
    cp = subprocess.run([promtool(), "check", "rules", "rules.yaml"], cwd=tmp_path, capture_output=True, text=True,
                        timeout=60, check=False)
    assert cp.returncode == 0 and "SUCCESS: 2 rules found" in cp.stdout, cp.stdout + cp.stderr

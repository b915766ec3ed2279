"""Dashboards and alert rules are valid and speak of metrics Coffre really exposes.

Rules: the compose rules file is the PrometheusRule's groups, unchanged; promtool accepts every
rule and every dashboard query and its unit tests fire each alert when it should; every
``coffre_*`` metric a dashboard or rule names is one the code registers (a renamed instrument
breaks this test, not a dashboard in production).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import DEPLOY, K8S, load_all, of_kind

pytestmark = pytest.mark.unit

MONITORING = DEPLOY / "monitoring"
DASHBOARDS = sorted((MONITORING / "dashboards").glob("*.json"))
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: `make system-deps` installs it (Debian prometheus)"
)
SERVICES = {"auth", "vault", "aggregation", "fraud", "payments", "archive"}


def _queries(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]


def _registered_coffre_metrics() -> set[str]:
    from archive.service import metrics as archive
    from auth.service import metrics as auth
    from common.messaging import instruments
    from common.metrics import configure_metrics, prometheus_text
    from fraud.service import metrics as fraud
    from payments.service import metrics as payments
    from vault.service import metrics as vault

    configure_metrics("deploy-test")
    instruments.record_lag("g", "t", 0, 1)
    instruments.record_backlog("s", 1, 1.0)
    vault.chain_checked(True)
    vault.count_unwraps("single", [b"key"])
    payments._live[payments.LIVE[0]] = 0
    counters = (instruments.published, instruments.consumed, instruments.dead_lettered,
                auth.logins, auth.second_factor_failures, auth.lockouts,
                fraud.decisions, payments.transitions, archive.receipts)  # fmt: skip
    for counter in counters:
        counter.add(0, {"group": "g"})
    histograms = (instruments.batch_size, instruments.batch_duration, vault.unwrap_batch_keys,
                  vault.audit_append, vault.audit_append_entries, fraud.score_latency,
                  archive.stage_duration)  # fmt: skip
    for histogram in histograms:
        histogram.record(0, {"group": "g"})
    names = re.findall(r"^(coffre_[a-z_]+)", prometheus_text().decode(), re.M)
    return {re.sub(r"_(bucket|count|sum|total)$", "", n) for n in names}


def test_compose_rules_are_the_prometheus_rule_groups() -> None:
    (rule,) = [r for r in of_kind("PrometheusRule") if r["metadata"]["name"] == "coffre-alerts"]
    compose = yaml.safe_load((MONITORING / "rules.yml").read_text())
    assert compose == {"groups": rule["spec"]["groups"]}


@needs_promtool
def test_promtool_accepts_the_rules_and_their_unit_tests_pass() -> None:
    for args in (["check", "rules", "rules.yml"], ["test", "rules", "rules.test.yml"]):
        done = subprocess.run([PROMTOOL, *args], cwd=MONITORING, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    exprs = [q for path in DASHBOARDS for q in _queries(json.loads(path.read_text()))]
    rules = [{"record": f"coffre:dashboard_query_{i}", "expr": q} for i, q in enumerate(exprs)]
    check = tmp_path / "queries.yml"
    check.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    done = subprocess.run([PROMTOOL, "check", "rules", str(check)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_one_dashboard_per_service_and_one_for_the_backbone() -> None:
    names = {p.stem for p in DASHBOARDS}
    assert names == SERVICES | {"backbone"}
    uids = [json.loads(p.read_text())["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == len(uids)
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        assert dashboard["panels"], path.name
        assert all(p["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"])


def test_dashboards_and_rules_name_only_metrics_the_code_registers() -> None:
    registered = _registered_coffre_metrics()
    texts = [p.read_text() for p in DASHBOARDS] + [(MONITORING / "rules.yml").read_text()]
    found = {m for text in texts for m in re.findall(r"\b(coffre_[a-z_]+)\b", text)}
    named = {re.sub(r"_(bucket|count|sum|total)$", "", m) for m in found}
    assert named - registered == set()


def test_every_service_dashboard_shows_the_services_own_metrics() -> None:
    own = {
        "vault": ["coffre_vault_unwraps", "coffre_vault_audit_append_duration_seconds",
                  "coffre_vault_audit_chain_intact"],
        "fraud": ["coffre_fraud_score_latency_seconds", "coffre_fraud_decisions"],
        "auth": ["coffre_auth_logins", "coffre_auth_second_factor_failures",
                 "coffre_auth_lockouts"],
        "payments": ["coffre_payments_live", "coffre_payments_transitions"],
        "archive": ["coffre_archive_receipts", "coffre_archive_stage_duration_seconds"],
    }  # fmt: skip
    for service, metrics in own.items():
        text = (MONITORING / "dashboards" / f"{service}.json").read_text()
        assert [m for m in metrics if m not in text] == [], service


def test_compose_prometheus_scrapes_every_service_and_loads_the_rules() -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    assert {job["job_name"] for job in config["scrape_configs"]} == SERVICES
    assert config["rule_files"] == ["/etc/prometheus/rules.yml"]


def test_services_are_scraped_in_kubernetes_and_the_vault_pushes_instead() -> None:
    monitors = {m["metadata"]["name"]: m for m in of_kind("ServiceMonitor")}
    assert set(monitors) == {"coffre-services", "coffre-otel-collector", "coffre-postgres"}
    vault = next(c for c in of_kind("ConfigMap") if c["metadata"]["name"] == "vault-config")
    assert vault["data"]["OTEL_METRICS_EXPORTER"] == "otlp"
    policies = load_all(K8S / "network-policies.yaml")
    assert any(p["metadata"]["name"] == "allow-prometheus-scrape" for p in policies)

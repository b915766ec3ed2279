"""Postgres backups in Kubernetes go through the Barman Cloud plugin: WAL archived continuously,
a daily base backup, SSE-KMS for data and WAL, a retention window; the alerts read metrics that
Prometheus really scrapes; the runbook's recovery manifests validate against the same schemas.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
import yaml
from deploy_support import ROOT, crd_schemas, of_kind, selects

pytestmark = pytest.mark.unit

Obj = dict[str, Any]
PLUGIN = "barman-cloud.cloudnative-pg.io"
RUNBOOK = ROOT / "docs" / "runbooks" / "restore.md"
METRIC = "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp"


def _cluster() -> Obj:
    (cluster,) = of_kind("Cluster")
    return cluster


def _store() -> Obj:
    (store,) = of_kind("ObjectStore")
    return store


def test_cluster_archives_wal_through_the_plugin_not_the_deprecated_in_tree_store() -> None:
    spec = _cluster()["spec"]
    assert "barmanObjectStore" not in spec.get("backup", {})
    (plugin,) = spec["plugins"]
    assert plugin["name"] == PLUGIN
    assert plugin["isWALArchiver"] is True
    assert plugin.get("enabled", True) is True
    assert plugin["parameters"]["barmanObjectName"] == _store()["metadata"]["name"]


def test_object_store_encrypts_data_and_wal_with_one_kms_key_and_keeps_35_days() -> None:
    spec = _store()["spec"]
    config = spec["configuration"]
    assert config["destinationPath"].startswith("s3://")
    assert "serverName" not in config  # the plugin takes it from the Cluster
    wal, data = config["wal"], config["data"]
    assert wal["encryption"] == data["encryption"] == "aws:kms"
    keys = {
        arg.partition("=")[2]
        for arg in [*wal["archiveAdditionalCommandArgs"], *data["additionalCommandArgs"]]
        if arg.startswith("--sse-kms-key-id=")
    }
    assert len(keys) == 1
    assert next(iter(keys)).startswith("arn:aws:kms:")
    window = re.fullmatch(r"(\d+)([dwm])", spec["retentionPolicy"])
    assert window
    assert int(window.group(1)) * {"d": 1, "w": 7, "m": 30}[window.group(2)] >= 30


def test_a_base_backup_runs_every_day_through_the_plugin() -> None:
    (backup,) = of_kind("ScheduledBackup")
    spec = backup["spec"]
    assert spec["cluster"]["name"] == _cluster()["metadata"]["name"]
    assert spec["method"] == "plugin"
    assert spec["pluginConfiguration"]["name"] == PLUGIN
    _seconds, _minute, hour, day, month, weekday = spec["schedule"].split()
    assert hour.isdigit()
    assert (day, month, weekday) == ("*", "*", "*")


def test_backup_alert_reads_the_plugin_metric_prometheus_really_scrapes() -> None:
    """The alert names the plugin's metric (not the in-tree `cnpg_collector_*` one, which the
    plugin no longer fills), and a ServiceMonitor → Service → Postgres pods chain serves it,
    with the `cluster` label the alert groups by, through a policy that lets Prometheus in."""
    (rules,) = [r for r in of_kind("PrometheusRule") if r["metadata"]["name"] == "coffre-alerts"]
    exprs = {r["alert"]: r["expr"] for g in rules["spec"]["groups"] for r in g["rules"]}
    assert METRIC in exprs["CoffreBackupTooOld"]
    assert "26 * 3600" in exprs["CoffreBackupTooOld"]
    assert "cnpg_collector_last_available_backup" not in " ".join(exprs.values())
    pods = {"cnpg.io/cluster": _cluster()["metadata"]["name"]}
    (service,) = [
        s for s in of_kind("Service") if selects({"matchLabels": s["spec"]["selector"]}, pods)
    ]
    (monitor,) = [
        m for m in of_kind("ServiceMonitor") if m["metadata"]["name"] == "coffre-postgres"
    ]
    assert selects(monitor["spec"]["selector"], service["metadata"]["labels"])
    (endpoint,) = monitor["spec"]["endpoints"]
    (port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
    assert port["port"] == 9187
    assert any(r["targetLabel"] == "cluster" for r in endpoint["relabelings"])
    scrape = [
        p
        for p in of_kind("NetworkPolicy")
        if selects(p["spec"]["podSelector"], pods)
        and any(
            port_rule.get("port") == 9187
            for rule in p["spec"].get("ingress", [])
            for port_rule in rule.get("ports", [])
        )
    ]
    assert scrape


def _runbook_objects() -> list[Obj]:
    blocks = re.findall(r"^```yaml\n(.*?)^```", RUNBOOK.read_text(), re.M | re.S)
    return [doc for block in blocks for doc in yaml.safe_load_all(block) if doc]


def test_runbook_recovery_cluster_validates_and_restores_from_the_plugin() -> None:
    objects = _runbook_objects()
    assert objects
    schemas = crd_schemas()
    for obj in objects:
        jsonschema.Draft4Validator(schemas[(obj["apiVersion"], obj["kind"])]).validate(obj)
    (restored,) = [o for o in objects if o["kind"] == "Cluster"]
    spec = restored["spec"]
    recovery = spec["bootstrap"]["recovery"]
    (source,) = [c for c in spec["externalClusters"] if c["name"] == recovery["source"]]
    assert source["plugin"]["name"] == PLUGIN
    assert source["plugin"]["parameters"]["barmanObjectName"] == _store()["metadata"]["name"]
    assert source["plugin"]["parameters"]["serverName"] == _cluster()["metadata"]["name"]
    assert "targetTime" in recovery["recoveryTarget"]
    (archiver,) = spec["plugins"]
    assert archiver["parameters"]["serverName"] == restored["metadata"]["name"]


def test_vendored_schemas_refuse_a_misspelt_plugin_field() -> None:
    schemas = crd_schemas()
    cluster = {
        **_cluster(),
        "spec": {**_cluster()["spec"], "plugins": [{"name": PLUGIN, "isWalArchiver": True}]},
    }
    with pytest.raises(jsonschema.ValidationError, match="isWalArchiver"):
        jsonschema.Draft4Validator(schemas[("postgresql.cnpg.io/v1", "Cluster")]).validate(cluster)
    store = {**_store(), "spec": {**_store()["spec"], "retentionPolicy": "35 days"}}
    with pytest.raises(jsonschema.ValidationError, match="35 days"):
        jsonschema.Draft4Validator(schemas[("barmancloud.cnpg.io/v1", "ObjectStore")]).validate(
            store
        )

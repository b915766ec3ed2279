"""Personal data on the broker is bounded: every topic that can carry it keeps records at most
``PERSONAL_DATA_RETENTION`` in segments rolled at least every ``PERSONAL_DATA_SEGMENT``, in
Kubernetes and in compose, so the ``events_on_broker_until`` an erasure proof states holds.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from common.events.erasure import (
    PERSONAL_DATA_RETENTION,
    PERSONAL_DATA_SEGMENT,
    personal_data_topics,
)
from deploy_support import COMPOSE_FILE, compose_services, of_kind

pytestmark = pytest.mark.unit

BOUNDS = {"retention.ms": PERSONAL_DATA_RETENTION, "segment.ms": PERSONAL_DATA_SEGMENT}


def _ms(bound: timedelta) -> int:
    return int(bound.total_seconds() * 1000)


def _within(config: dict[str, object], where: str) -> list[str]:
    problems = []
    for name, bound in BOUNDS.items():
        value = config.get(name)
        if value is None or int(str(value)) <= 0 or int(str(value)) > _ms(bound):
            problems.append(f"{where}: {name}={value!r}, must be 1..{_ms(bound)}")
    return problems


def test_personal_data_topics_are_every_topic_but_the_vaults_key_events() -> None:
    topics = personal_data_topics()
    assert "coffre.dead-letter.v1" in topics
    assert "aggregation.transaction-ingested.v1" in topics
    assert not [t for t in topics if t.startswith("vault.")]


def test_every_personal_data_topic_has_a_retention_bound_in_kubernetes() -> None:
    configs = {
        t["spec"].get("topicName", t["metadata"]["name"]): t["spec"].get("config", {})
        for t in of_kind("KafkaTopic")
    }
    problems = [
        problem
        for topic in personal_data_topics()
        for problem in _within(configs.get(topic, {}), f"KafkaTopic {topic}")
    ]
    assert not problems, problems


def test_compose_bounds_the_retention_of_every_topic_it_creates() -> None:
    script: str = compose_services(COMPOSE_FILE)["kafka-init"]["command"][0]
    created = re.findall(r"--config (\S+)=(\S+)", script)
    altered = re.search(r"--add-config (\S+)", script)
    assert altered, "kafka-init must also bound the topics that already exist"
    for found, where in (
        (dict(created), "create"),
        (dict(pair.split("=", 1) for pair in altered.group(1).split(",")), "alter"),
    ):
        assert not _within(found, f"kafka-init {where}"), _within(found, where)

"""The event registry in libs/common is the source of truth for Kafka topics: the compose
`kafka-init` list and the Strimzi KafkaTopic resources name exactly `common.events.all_topics()`,
so a newly registered event fails here until both manifests create its topic.
"""

from __future__ import annotations

from collections import Counter

import pytest
from deploy_support import compose_init_topics, of_kind, registered_topics

pytestmark = pytest.mark.unit


def _difference(declared: list[str], where: str) -> str:
    registered = registered_topics()
    missing = sorted(registered - set(declared))
    unknown = sorted(set(declared) - registered)
    doubled = sorted(t for t, n in Counter(declared).items() if n > 1)
    return f"{where}: missing {missing}, not registered {unknown}, listed twice {doubled}"


def _kafka_topic_names() -> list[str]:
    return [t["spec"].get("topicName", t["metadata"]["name"]) for t in of_kind("KafkaTopic")]


def test_the_registry_has_topics() -> None:
    assert "coffre.dead-letter.v1" in registered_topics()
    assert len(registered_topics()) > 1


def test_compose_creates_exactly_the_registered_topics() -> None:
    declared = compose_init_topics()
    assert sorted(declared) == sorted(registered_topics()), _difference(
        declared, "docker-compose.yml kafka-init"
    )


def test_kubernetes_declares_exactly_the_registered_topics() -> None:
    declared = _kafka_topic_names()
    assert sorted(declared) == sorted(registered_topics()), _difference(
        declared, "deploy/k8s/kafka.yaml KafkaTopic"
    )


def test_every_kafka_topic_is_replicated_on_the_coffre_cluster() -> None:
    for topic in of_kind("KafkaTopic"):
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "coffre-kafka"
        assert topic["spec"]["partitions"] == 6
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"]["min.insync.replicas"] == 2


def test_a_registered_topic_missing_from_a_manifest_is_named() -> None:
    declared = sorted(registered_topics())[1:]
    assert sorted(registered_topics())[0] in _difference(declared, "x")

"""Apache Kafka and Postgres in Docker for the ``containers`` test profile (testcontainers).

Rules: one Kafka (KRaft, single node, ``apache/kafka`` — the image compose runs) and one
Postgres per test session; Kafka advertises the host port Docker mapped, which is known only
once the container runs, so the container waits for a start script written after ``start``;
topics are created on first use, as with the embedded broker; both containers are removed when
the session ends (and by testcontainers' reaper if the session is killed).
"""

from __future__ import annotations

import io
import re
import secrets
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

KAFKA_IMAGE = "apache/kafka:3.9.1"
POSTGRES_IMAGE = "postgres:18-alpine"
_START_SCRIPT = "/tmp/coffre-start.sh"  # noqa: S108 (inside the container)
_KAFKA_PORT = 9092
_KAFKA_ENV = {
    "CLUSTER_ID": "tHTcVKEAWBOUwT5MF3fiQg",
    "KAFKA_NODE_ID": "1",
    "KAFKA_PROCESS_ROLES": "broker,controller",
    "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
    "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
    "KAFKA_LISTENERS": "PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093,BROKER://0.0.0.0:9094",
    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": (
        "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,BROKER:PLAINTEXT"
    ),
    "KAFKA_INTER_BROKER_LISTENER_NAME": "BROKER",
    "KAFKA_NUM_PARTITIONS": "6",
    "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "true",
    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
    "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
}


def _put_file(container: Any, path: str, content: bytes) -> None:
    archive = io.BytesIO()
    with tarfile.TarFile(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo(name=path.lstrip("/"))
        info.size, info.mtime, info.mode = len(content), int(time.time()), 0o755
        tar.addfile(info, io.BytesIO(content))
    container.get_wrapped_container().put_archive("/", archive.getvalue())


@contextmanager
def kafka_container(timeout: float = 120) -> Iterator[str]:
    """Start Apache Kafka; yield its bootstrap address on the host."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    container = DockerContainer(KAFKA_IMAGE).with_exposed_ports(_KAFKA_PORT)
    for key, value in _KAFKA_ENV.items():
        container.with_env(key, value)
    container.with_command(
        f'sh -c "while [ ! -f {_START_SCRIPT} ]; do sleep 0.1; done; exec sh {_START_SCRIPT}"'
    )
    container.start()
    try:
        host, port = container.get_container_host_ip(), container.get_exposed_port(_KAFKA_PORT)
        script = (
            "export KAFKA_ADVERTISED_LISTENERS="
            f"PLAINTEXT://{host}:{port},BROKER://$(hostname -i | cut -d' ' -f1):9094\n"
            "exec /etc/kafka/docker/run\n"
        )
        _put_file(container, _START_SCRIPT, script.encode())
        wait = LogMessageWaitStrategy(re.compile(r".*Kafka Server started.*"))
        wait.with_startup_timeout(int(timeout))
        wait.wait_until_ready(container)
        yield f"{host}:{port}"
    finally:
        container.stop()


@contextmanager
def postgres_container() -> Iterator[str]:
    """Start Postgres (fsync off: test data only); yield its URL on the host."""
    from testcontainers.community.postgres import PostgresContainer

    container = PostgresContainer(
        POSTGRES_IMAGE,
        username="coffre",
        password=secrets.token_urlsafe(16),
        dbname="coffre",
        driver=None,
    ).with_command(
        "postgres -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        " -c max_connections=300"
    )
    container.start()
    try:
        yield container.get_connection_url(driver=None)
    finally:
        container.stop()

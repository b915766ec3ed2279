"""Starting the embedded broker and Postgres for tests, and settings that point at them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from common.settings import ServiceSettings
from devstack.kafka import EmbeddedKafka
from devstack.postgres import EmbeddedPostgres

S = TypeVar("S", bound=ServiceSettings)


@dataclass
class Infra:
    database_url: str
    bootstrap_servers: str
    idempotent_producer: bool = False
    kafka: EmbeddedKafka | None = field(default=None, repr=False)
    postgres: EmbeddedPostgres | None = field(default=None, repr=False)

    def settings(self, cls: type[S], *, service_name: str, schema: str, **overrides: Any) -> S:
        """Settings for a service under test: real infra, fast group joins, its own schema."""
        values: dict[str, Any] = {
            "service_name": service_name,
            "environment": "test",
            "database_url": self.database_url,
            "database_schema": schema,
            "kafka_bootstrap_servers": self.bootstrap_servers,
            "kafka_idempotent_producer": self.idempotent_producer,
            "kafka_session_timeout_ms": 2000,
            "kafka_heartbeat_interval_ms": 300,
            "db_pool_max": 5,
        }
        values.update(overrides)
        return cls.model_validate(values)

"""Who is calling: a service identity, and for operator grants the named human operator."""

from __future__ import annotations

from dataclasses import dataclass

from vault.domain import names

ANONYMOUS = "anonymous"
VAULT = "vault"


@dataclass(frozen=True, slots=True)
class Caller:
    service: str
    operator: str | None = None

    def __post_init__(self) -> None:
        names.service(self.service)
        if self.operator is not None:
            names.operator(self.operator)

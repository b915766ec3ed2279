"""Which service identity may do which action for which purpose.

Rules:
- Default deny: anything not listed is refused.
- The default policy: aggregation and payments read ``psd2-consent``; aggregation writes and
  deletes it; payments alone reads, writes and deletes its payment consents
  (``psd2-payment-consent``) and the payee accounts of payments in flight (``payment-payee``);
  aggregation stores ``bank-credentials`` sealed on the member's device (it can never read them
  back), deletes them, and has them re-sealed for the pinned PSD2 agent (only the agent opens
  that); archive generates, unwraps and destroys ``document`` data keys; backoffice asks
  for and uses time-boxed operator grants on ``bank-credentials``. Nobody else does anything.
- A policy can be written as text, one ``service:purpose:action`` per comma-separated item.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vault.domain import names
from vault.domain.errors import InvalidInput, PolicyDenied


class Action(StrEnum):
    READ = "secret.read"
    WRITE = "secret.write"
    DELETE = "secret.delete"
    RESEAL = "secret.reseal"
    GENERATE_DATA_KEY = "datakey.generate"
    UNWRAP_DATA_KEY = "datakey.unwrap"
    DESTROY_DATA_KEYS = "datakey.destroy"
    REQUEST_GRANT = "grant.request"
    USE_GRANT = "grant.use"


@dataclass(frozen=True, slots=True)
class Rule:
    service: str
    purpose: str
    action: Action


@dataclass(frozen=True, slots=True)
class Policy:
    rules: frozenset[Rule]

    def allows(self, service: str, purpose: str, action: Action) -> bool:
        return Rule(service, purpose, action) in self.rules

    def allows_any(self, service: str, action: Action) -> bool:
        """Whether the service may do ``action`` for at least one purpose."""
        return any(r.service == service and r.action is action for r in self.rules)

    def check_any(self, service: str, action: Action) -> None:
        """Refuse a service that may never do ``action``, before looking at what it asks for."""
        if not self.allows_any(service, action):
            raise PolicyDenied(
                f"{service} may not {action.value}", service=service, action=action.value
            )

    def check(self, service: str, purpose: str, action: Action) -> None:
        if not self.allows(service, purpose, action):
            raise PolicyDenied(
                f"{service} may not {action.value} for {purpose}",
                service=service,
                purpose=purpose,
                action=action.value,
            )

    @classmethod
    def parse(cls, text: str) -> Policy:
        rules = set()
        for item in filter(None, (part.strip() for part in text.split(","))):
            try:
                service, purpose, action = item.split(":")
                rules.add(Rule(names.service(service), names.purpose(purpose), Action(action)))
            except ValueError:
                raise InvalidInput(f"policy item {item!r} is not service:purpose:action") from None
        return cls(frozenset(rules))

    def to_text(self) -> str:
        return ",".join(sorted(f"{r.service}:{r.purpose}:{r.action.value}" for r in self.rules))


DEFAULT_POLICY = Policy.parse(
    ",".join(
        [
            "aggregation:psd2-consent:secret.read",
            "aggregation:psd2-consent:secret.write",
            "aggregation:psd2-consent:secret.delete",
            "payments:psd2-consent:secret.read",
            "payments:psd2-payment-consent:secret.read",
            "payments:psd2-payment-consent:secret.write",
            "payments:psd2-payment-consent:secret.delete",
            "payments:payment-payee:secret.read",
            "payments:payment-payee:secret.write",
            "payments:payment-payee:secret.delete",
            "aggregation:bank-credentials:secret.write",
            "aggregation:bank-credentials:secret.reseal",
            "aggregation:bank-credentials:secret.delete",
            "archive:document:datakey.generate",
            "archive:document:datakey.unwrap",
            "archive:document:datakey.destroy",
            "backoffice:bank-credentials:grant.request",
            "backoffice:bank-credentials:grant.use",
        ]
    )
)

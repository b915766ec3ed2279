"""Auth's metrics: sign-ins by outcome, second-factor failures and lockouts.

Rules: they are counted from the events a unit of work commits (``count_committed``, called
once the transaction is durable), so a rolled-back attempt counts nothing and the figures agree
with the audit events; labels are an outcome, a stage, a flow, a reason code or a lock scope —
never a member id, an address, a phone number or a code.
"""

from __future__ import annotations

from common.events import Event
from common.events.auth import (
    AccountLocked,
    ChallengeLocked,
    LoginFailed,
    LoginSucceeded,
    StepUpFailed,
)
from common.metrics import meter

_meter = meter("coffre.auth")

logins = _meter.create_counter(
    "coffre.auth.logins",
    unit="{login}",
    description="Sign-ins completed or refused, by outcome and stage (password, second-factor).",
)
second_factor_failures = _meter.create_counter(
    "coffre.auth.second_factor.failures",
    unit="{attempt}",
    description="Refused second-factor codes, by flow (login, step-up) and reason.",
)
lockouts = _meter.create_counter(
    "coffre.auth.lockouts",
    unit="{lockout}",
    description="Locks after repeated wrong codes or passwords: account (sign-in) or challenge.",
)
COUNTED = (LoginSucceeded, LoginFailed, StepUpFailed, AccountLocked, ChallengeLocked)


def _success_stage(methods: list[str]) -> str:
    if "saml" in methods:
        return "sso"
    return "second-factor" if len(methods) > 1 else "password"


def count_committed(event: Event) -> None:
    """Count one committed auth event (others are ignored)."""
    if isinstance(event, LoginSucceeded):
        logins.add(1, {"outcome": "succeeded", "stage": _success_stage(event.methods)})
    elif isinstance(event, LoginFailed):
        logins.add(1, {"outcome": "failed", "stage": event.stage})
        if event.stage == "second-factor":
            second_factor_failures.add(1, {"flow": "login", "reason": event.reason})
    elif isinstance(event, StepUpFailed):
        second_factor_failures.add(1, {"flow": "step-up", "reason": event.reason})
    elif isinstance(event, AccountLocked):
        lockouts.add(1, {"scope": "account"})
    elif isinstance(event, ChallengeLocked):
        lockouts.add(1, {"scope": "challenge", "purpose": event.purpose})

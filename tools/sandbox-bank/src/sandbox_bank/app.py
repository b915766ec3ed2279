"""The sandbox bank's composition root: `create_app(settings=None)` wires bank, routes, errors.

Rules: nothing is read or opened at import; each app owns its own in-memory bank, clock and
fault plan, so tests get a fresh bank per app.
"""

from fastapi import FastAPI

from sandbox_bank.api import (
    accounts,
    consents,
    controls,
    embedded,
    errors,
    middleware,
    payment_consents,
    payments,
    pis_controls,
)
from sandbox_bank.domain.bank import SandboxBank
from sandbox_bank.domain.clock import SandboxClock
from sandbox_bank.domain.faults import FaultKind, FaultPlan
from sandbox_bank.settings import SandboxSettings


def create_app(
    settings: SandboxSettings | None = None, clock: SandboxClock | None = None
) -> FastAPI:
    """A sandbox bank app; settings default to the `SANDBOX_BANK_*` environment."""
    settings = settings or SandboxSettings()
    app = FastAPI(
        title="Coffre sandbox bank (Berlin Group NextGenPSD2 AIS and PIS)",
        version="1.0",
        description="A PSD2 agent double: consents, accounts, transactions, payment initiation.",
    )
    faults = FaultPlan()
    app.state.faults = faults
    app.state.bank = SandboxBank(settings, clock, lambda: faults.active(FaultKind.STUCK_ACTC))
    errors.install(app)
    middleware.install(app, app.state.faults)
    app.include_router(consents.router)
    app.include_router(embedded.router)
    app.include_router(accounts.router)
    app.include_router(payment_consents.router)
    app.include_router(payments.router)
    if settings.enable_controls:
        app.include_router(controls.router)
        app.include_router(pis_controls.router)

    @app.get("/health/live", tags=["health"])
    @app.get("/health/ready", tags=["health"])
    async def health() -> dict[str, str]:
        """The bank lives in memory: serving requests is being ready."""
        return {"status": "ok"}

    return app

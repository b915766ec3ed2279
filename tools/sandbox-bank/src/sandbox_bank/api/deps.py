"""Headers every Berlin Group call carries, and the bank behind the app.

Rules: X-Request-ID is a UUID on every /v1 call; PSU-IP-Address, when present, is an IP address
and marks the call as attended (the member is present); Consent-ID is required on AIS reads.
"""

import ipaddress
import uuid
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Header, Request

from sandbox_bank.domain.bank import SandboxBank
from sandbox_bank.domain.errors import FormatError
from sandbox_bank.domain.faults import FaultPlan


def get_bank(request: Request) -> SandboxBank:
    """The bank this app serves."""
    bank: SandboxBank = request.app.state.bank
    return bank


def get_faults(request: Request) -> FaultPlan:
    """The app's fault plan."""
    faults: FaultPlan = request.app.state.faults
    return faults


def request_id(x_request_id: Annotated[str, Header(alias="X-Request-ID")]) -> str:
    """The caller's request id, which must be a UUID."""
    try:
        uuid.UUID(x_request_id)
    except ValueError as exc:
        raise FormatError("X-Request-ID must be a UUID") from exc
    return x_request_id


def attended(
    psu_ip_address: Annotated[str | None, Header(alias="PSU-IP-Address")] = None,
) -> bool:
    """True when the member is present (the TPP forwards their IP address)."""
    if psu_ip_address is None:
        return False
    try:
        ipaddress.ip_address(psu_ip_address)
    except ValueError as exc:
        raise FormatError("PSU-IP-Address must be an IP address") from exc
    return True


def redirect_uri(value: str, header: str) -> str:
    """An absolute http(s) URI, as the TPP gave it."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FormatError(f"{header} must be an absolute http(s) URI")
    return value


Bank = Annotated[SandboxBank, Depends(get_bank)]
Faults = Annotated[FaultPlan, Depends(get_faults)]
RequestId = Annotated[str, Depends(request_id)]
Attended = Annotated[bool, Depends(attended)]
ConsentId = Annotated[str, Header(alias="Consent-ID", min_length=1)]
PsuId = Annotated[str, Header(alias="PSU-ID", min_length=1, max_length=140)]

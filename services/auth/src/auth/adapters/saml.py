"""SAML 2.0 service provider on pysaml2 (xmlsec1 checks the XML signatures).

Rules: one SP configuration per tenant, trusting only that tenant's IdP metadata; the
AuthnRequest goes by HTTP-Redirect, the Response comes back by HTTP-POST to the tenant's ACS;
the assertion must be signed by the IdP, addressed to our ACS (recipient/destination), meant for
our entity id (audience), within its validity window (30 s of clock skew), issued by the tenant's
IdP and in response to a request we sent (unsolicited responses are refused); every XML
signature and digest in it uses SHA-256 or stronger (SHA-1 and MD5 are refused). Any failure is
a refusal whose reason is logged by exception type only — never the XML (pysaml2's own logger is
kept at WARNING so its debug output, which holds assertions, never reaches the logs).
"""

from __future__ import annotations

import base64
import binascii
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from common.logging import get_logger
from defusedxml import ElementTree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAMEID_FORMAT_PERSISTENT

from auth.domain.errors import SsoRefused
from auth.domain.sso import SsoIdentity, Tenant

log = get_logger(__name__)
logging.getLogger("saml2").setLevel(logging.WARNING)
MAX_RESPONSE_BYTES = 256_000
CLOCK_SKEW_SECONDS = 30
DS = "{http://www.w3.org/2000/09/xmldsig#}"
STRONG_ALGORITHMS = frozenset(
    {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2001/04/xmldsig-more#sha384",
        "http://www.w3.org/2001/04/xmlenc#sha512",
    }
)


def _parse(saml_response: str) -> Any:
    if len(saml_response) > MAX_RESPONSE_BYTES:
        raise SsoRefused("the SAML response is too large")
    try:
        return ElementTree.fromstring(base64.b64decode(saml_response, validate=False))
    except (binascii.Error, ValueError, ElementTree.ParseError, Exception):
        raise SsoRefused("the SAML response is malformed") from None


def _strong_signatures_only(root: Any) -> None:
    for tag in ("SignatureMethod", "DigestMethod"):
        for element in root.iter(DS + tag):
            if element.attrib.get("Algorithm") not in STRONG_ALGORITHMS:
                raise SsoRefused("the response is signed with a weak algorithm")


def _parse_time(value: str | None, default: datetime) -> datetime:
    if not value:
        return default
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return default


class Pysaml2ServiceProvider:
    def __init__(self, base_url: str, xmlsec_binary: str = "/usr/bin/xmlsec1") -> None:
        self.base_url = base_url.rstrip("/")
        self.xmlsec_binary = xmlsec_binary

    def urls(self, tenant: Tenant) -> tuple[str, str]:
        base = f"{self.base_url}/v1/sso/{tenant.slug}"
        return f"{base}/metadata", f"{base}/acs"

    def _config(self, tenant: Tenant) -> SPConfig:
        entity_id, acs = self.urls(tenant)
        conf: dict[str, Any] = {
            "entityid": entity_id,
            "xmlsec_binary": self.xmlsec_binary,
            "metadata": {"inline": [tenant.saml_metadata]},
            "accepted_time_diff": CLOCK_SKEW_SECONDS,
            "allow_unknown_attributes": True,
            "service": {
                "sp": {
                    "name": "Coffre",
                    "endpoints": {"assertion_consumer_service": [(acs, BINDING_HTTP_POST)]},
                    "allow_unsolicited": False,
                    "want_assertions_signed": True,
                    "want_response_signed": False,
                    "authn_requests_signed": False,
                    "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                }
            },
        }
        config = SPConfig()
        config.load(conf)
        return config

    def metadata(self, tenant: Tenant) -> str:
        return str(entity_descriptor(self._config(tenant)))

    def begin(self, tenant: Tenant) -> tuple[str, str]:
        """Return (request id, IdP redirect URL) for an SP-initiated login."""
        client = Saml2Client(config=self._config(tenant))
        request_id, info = client.prepare_for_authenticate(
            entityid=tenant.idp_entity_id, binding=BINDING_HTTP_REDIRECT
        )
        location = dict(info["headers"])["Location"]
        return str(request_id), str(location)

    def in_response_to(self, saml_response: str) -> str | None:
        """The (not yet verified) InResponseTo of a posted response, to find our request."""
        value = _parse(saml_response).attrib.get("InResponseTo")
        return str(value) if value else None

    def verify(self, tenant: Tenant, saml_response: str, request_id: str) -> SsoIdentity:
        _strong_signatures_only(_parse(saml_response))
        client = Saml2Client(config=self._config(tenant))
        try:
            response = client.parse_authn_request_response(
                saml_response, BINDING_HTTP_POST, outstanding={request_id: "/"}
            )
        except Exception as exc:
            log.warning("saml_response_refused", error=type(exc).__name__, tenant=tenant.slug)
            raise SsoRefused() from None
        if response is None or response.assertion is None or response.name_id is None:
            raise SsoRefused()
        if response.issuer() != tenant.idp_entity_id:
            raise SsoRefused("the response comes from another identity provider")
        return self._identity(tenant, response)

    def _identity(self, tenant: Tenant, response: Any) -> SsoIdentity:
        assertion = response.assertion
        now = datetime.now(UTC)
        conditions = getattr(assertion, "conditions", None)
        until = _parse_time(
            getattr(conditions, "not_on_or_after", None), now + timedelta(minutes=10)
        )
        emails = (response.ava or {}).get(tenant.email_attribute) or []
        return SsoIdentity(
            tenant_id=tenant.id,
            name_id=str(response.name_id.text).strip(),
            email=str(emails[0]).strip() if emails else None,
            assertion_id=str(assertion.id),
            not_on_or_after=until + timedelta(seconds=CLOCK_SKEW_SECONDS),
        )

"""Company tenants for single sign-on (SAML 2.0, and OpenID Connect in ``domain.oidc``).

Rules: a tenant trusts at most one SAML identity provider (its entity id and signing certificate
come from the IdP's metadata) — a tenant without one signs in through OIDC only; a member
signing in through it is matched by the IdP's persistent NameID within that tenant, never
across tenants; an assertion id is accepted once.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from common.errors import ValidationFailed

from auth.domain.errors import TenantNotFound

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


@dataclass
class Tenant:
    id: uuid.UUID
    slug: str
    name: str
    idp_entity_id: str | None
    idp_metadata_xml: str | None
    created_at: datetime
    email_attribute: str = "email"

    @classmethod
    def create(
        cls,
        slug: str,
        name: str,
        idp_entity_id: str | None,
        idp_metadata_xml: str | None,
        now: datetime,
    ) -> Tenant:
        if not SLUG.match(slug):
            raise ValidationFailed("the tenant slug must be lower-case letters, digits and -")
        if not 0 < len(name) <= 200 or not name.isprintable():
            raise ValidationFailed("the tenant name must be 1 to 200 printable characters")
        return cls(uuid.uuid4(), slug, name, idp_entity_id, idp_metadata_xml, now)

    @property
    def saml_metadata(self) -> str:
        """The SAML IdP's metadata; a tenant without SAML is unknown to the SAML routes."""
        if self.idp_metadata_xml is None:
            raise TenantNotFound()
        return self.idp_metadata_xml


@dataclass(frozen=True)
class SsoIdentity:
    """What a verified assertion says about the member."""

    tenant_id: uuid.UUID
    name_id: str
    email: str | None
    assertion_id: str
    not_on_or_after: datetime

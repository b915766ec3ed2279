"""Auth's request body limits (enforced by ``common.http.limits`` before a body is read).

Rules: a JSON request body is at most 64 KiB, a SAML form post (``/v1/sso/{tenant}/acs``) at
most 300 kB.
"""

from __future__ import annotations

from common.http.limits import BodyLimits

MAX_JSON_BYTES = 64 * 1024
MAX_SAML_FORM_BYTES = 300_000
SAML_ACS_SUFFIX = "/acs"

AUTH_BODY_LIMITS = BodyLimits(MAX_JSON_BYTES, {SAML_ACS_SUFFIX: MAX_SAML_FORM_BYTES})

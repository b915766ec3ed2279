"""Errors of the sealed bank-credentials flow, each with a stable code.

Rule: none of them ever carries the credentials, the envelope or the bank's consent id.
"""

from __future__ import annotations

from common.errors import Conflict, ValidationFailed


class CredentialsSealInvalid(ValidationFailed):
    """The envelope is malformed, tampered with, or not sealed for this member and purpose."""

    code = "aggregation.credentials-seal-invalid"
    title = "The sealed credentials cannot be accepted"


class CredentialsMissing(Conflict):
    code = "aggregation.credentials-missing"
    title = "No bank credentials are stored for this member"


class CredentialsRejected(ValidationFailed):
    """The bank did not authenticate the member with the stored credentials."""

    code = "aggregation.credentials-rejected"
    title = "The bank refused the credentials"

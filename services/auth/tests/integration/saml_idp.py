"""A real SAML 2.0 identity provider for the tests: pysaml2's IdP side, keys made here."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

ENTITY_ID = "https://idp.example.test/metadata"
SSO_URL = "https://idp.example.test/sso"


def make_key_and_cert(folder: Path, name: str) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = folder / f"{name}.key", folder / f"{name}.crt"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


class TestIdp:
    __test__ = False

    def __init__(
        self,
        folder: Path,
        name: str = "idp",
        entity_id: str = ENTITY_ID,
        lifetime_minutes: int = 5,
    ) -> None:
        self.key_file, self.cert_file = make_key_and_cert(folder, name)
        self.entity_id = entity_id
        self.lifetime_minutes = lifetime_minutes
        self.server: Server | None = None

    def _config(self, *sp_metadata: str) -> IdPConfig:
        conf: dict[str, Any] = {
            "entityid": self.entity_id,
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "key_file": str(self.key_file),
            "cert_file": str(self.cert_file),
            "service": {
                "idp": {
                    "name": "Test IdP",
                    "endpoints": {"single_sign_on_service": [(SSO_URL, BINDING_HTTP_REDIRECT)]},
                    "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                    "policy": {"default": {"lifetime": {"minutes": self.lifetime_minutes}}},
                }
            },
        }
        if sp_metadata:
            conf["metadata"] = {"inline": list(sp_metadata)}
        config = IdPConfig()
        config.load(conf)
        return config

    def metadata(self) -> str:
        return str(entity_descriptor(self._config()))

    def trust_sp(self, *sp_metadata: str) -> None:
        self.server = Server(config=self._config(*sp_metadata))

    def respond(
        self,
        redirect_url: str,
        *,
        name_id: str,
        email: str,
        sign_assertion: bool = True,
        sha1: bool = False,
        sp_entity_id: str | None = None,
        destination: str | None = None,
    ) -> str:
        """Answer the AuthnRequest in ``redirect_url``; return the base64 SAMLResponse.

        ``sp_entity_id`` / ``destination`` address the answer to another SP than the asker."""
        assert self.server is not None
        query = parse_qs(urlparse(redirect_url).query)
        request = self.server.parse_authn_request(query["SAMLRequest"][0], BINDING_HTTP_REDIRECT)
        message = request.message
        response = self.server.create_authn_response(
            identity={"email": [email]},
            in_response_to=message.id,
            destination=destination or message.assertion_consumer_service_url,
            sp_entity_id=sp_entity_id or message.issuer.text,
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=name_id),
            sign_assertion=sign_assertion,
            sign_response=False,
            sign_alg=SIG_RSA_SHA1 if sha1 else SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA1 if sha1 else DIGEST_SHA256,
            userid=name_id,
            authn={
                "class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
            },
        )
        return base64.b64encode(str(response).encode()).decode()


def tamper(saml_response: str, old: str, new: str) -> str:
    xml = base64.b64decode(saml_response).decode()
    assert old in xml
    return base64.b64encode(xml.replace(old, new).encode()).decode()

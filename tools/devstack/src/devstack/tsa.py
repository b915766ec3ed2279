"""A small RFC 3161 time-stamping authority for development and tests, over HTTP.

Rules: `POST /` takes a DER `TimeStampReq` (`application/timestamp-query`) and answers a DER
`TimeStampResp` (`application/timestamp-reply`) signed with the dev PKI's TSA certificate
(pyHanko's TSA building blocks, the key parsed once, RSA or ECDSA); a malformed request gets
400. HTTP/1.1 with keep-alive, so a client reuses its connection for every token. `GET
/crl/root.crl` serves the dev root's CRL, the URL the dev certificates name. Development and
tests only.
"""

from __future__ import annotations

import argparse
import signal
import threading
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from asn1crypto import algos, cms, core, tsp
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder
from pyhanko.sign.general import as_signing_certificate, simple_cms_attribute
from pyhanko.sign.timestamps.common_utils import get_nonce
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from devstack.pki import DevPki, ensure_dev_pki

MAX_REQUEST_BYTES = 64 * 1024
DEFAULT_TSA_PORT = 8021


class CachedKeyTimeStamper(DummyTimeStamper):
    """pyHanko's TSA building block with the key (RSA or ECDSA) parsed once, and the parts that
    are the same in every token (TSA name, signer id, ESS signing-certificate, certificates)
    encoded once: asn1crypto re-encodes a copied certificate field on every use otherwise."""

    def __init__(
        self,
        tsa_cert: asn1_x509.Certificate,
        tsa_key: asn1_keys.PrivateKeyInfo,
        certs_to_embed: list[asn1_x509.Certificate],
    ) -> None:
        store = SimpleCertificateStore.from_certs(certs_to_embed)
        super().__init__(tsa_cert=tsa_cert, tsa_key=tsa_key, certs_to_embed=store)
        key = serialization.load_der_private_key(tsa_key.dump(), password=None)
        if not isinstance(key, RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError("the development TSA key must be RSA or ECDSA")
        self._key = key
        self._tsa_name = asn1_x509.GeneralName(name="directory_name", value=tsa_cert.subject).dump()
        self._ess = simple_cms_attribute(
            "signing_certificate", as_signing_certificate(tsa_cert)
        ).dump()
        issuer_serial = {"issuer": tsa_cert.issuer, "serial_number": tsa_cert.serial_number}
        self._sid = cms.SignerIdentifier({"issuer_and_serial_number": issuer_serial}).dump()
        unique = {c.sha256: c for c in [*certs_to_embed, tsa_cert]}
        self._cert_set_der = cms.CertificateSet(
            [cms.CertificateChoices({"certificate": c}) for c in unique.values()]
        ).dump()

    def _build_tst_info(
        self, message_imprint: tsp.MessageImprint, dt: datetime, req: tsp.TimeStampReq
    ) -> tsp.TSTInfo:
        info = tsp.TSTInfo(
            {
                "version": "v1",
                "policy": tsp.ObjectIdentifier("1.3.6.1.4.1.4146.2.2"),
                "message_imprint": message_imprint,
                "serial_number": get_nonce(),
                "gen_time": dt,
                "tsa": asn1_x509.GeneralName.load(self._tsa_name),
            }
        )
        if req["nonce"].native is not None:
            info["nonce"] = req["nonce"]
        return info

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, dt: datetime
    ) -> tuple[bytes, cms.CMSAttributes]:
        digest = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
        digest.update(tst_info_data)
        signed_attrs = cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
                cms.CMSAttribute.load(self._ess),
                simple_cms_attribute("message_digest", digest.finalize()),
            ]
        )
        hash_algo = get_pyca_cryptography_hash(md_algorithm.upper())
        if isinstance(self._key, RSAPrivateKey):
            signature = self._key.sign(signed_attrs.dump(), PKCS1v15(), hash_algo)
        else:
            signature = self._key.sign(signed_attrs.dump(), ec.ECDSA(hash_algo))
        return signature, signed_attrs

    def _build_signed_data(
        self,
        tst_info_data: bytes,
        md_algorithm: str,
        signature: bytes,
        signed_attrs: cms.CMSAttributes,
    ) -> dict[str, object]:
        digest_algorithm = algos.DigestAlgorithm({"algorithm": md_algorithm})
        rsa = isinstance(self._key, RSAPrivateKey)
        algorithm = "rsassa_pkcs1v15" if rsa else f"{md_algorithm.lower()}_ecdsa"
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier.load(self._sid),
                "digest_algorithm": digest_algorithm,
                "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": algorithm}),
                "signed_attrs": signed_attrs,
                "signature": signature,
            }
        )
        content = {"content_type": "tst_info", "content": cms.ParsableOctetString(tst_info_data)}
        return {
            "version": "v3",
            "digest_algorithms": cms.DigestAlgorithms((digest_algorithm,)),
            "encap_content_info": cms.EncapsulatedContentInfo(content),
            "certificates": cms.CertificateSet.load(self._cert_set_der),
            "signer_infos": [signer_info],
        }


def _handler(stamper: DummyTimeStamper, pki: DevPki) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body leave at once on a kept-alive link

        def log_message(self, format: str, *args: object) -> None:
            return

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/crl/root.crl":
                self._answer(200, pki.crl.read_bytes(), "application/pkix-crl")
            elif self.path == "/health":
                self._answer(200, b"ok", "text/plain")
            else:
                self._answer(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_REQUEST_BYTES:
                self.close_connection = True  # the body was not read: the stream is out of step
                self._answer(400, b"a timestamp request is required", "text/plain")
                return
            try:
                request = tsp.TimeStampReq.load(self.rfile.read(length))
                with lock:
                    response = stamper.request_tsa_response(request)
                body = response.dump()
            except Exception:
                self._answer(400, b"malformed timestamp request", "text/plain")
                return
            self._answer(200, body, "application/timestamp-reply")

    return Handler


@dataclass
class DevTsa:
    """The TSA on a thread: `start()`, `url`, `stop()`."""

    pki_folder: Path
    port: int = DEFAULT_TSA_PORT
    host: str = "127.0.0.1"
    _server: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> DevTsa:
        crl_url = f"http://{self.host}:{self.port}/crl/root.crl"
        pki = ensure_dev_pki(self.pki_folder, crl_url=crl_url)
        stamper = CachedKeyTimeStamper(
            tsa_cert=load_cert_from_pemder(str(pki.tsa_cert)),
            tsa_key=load_private_key_from_pemder(str(pki.tsa_key), passphrase=None),
            certs_to_embed=[load_cert_from_pemder(str(pki.root_cert))],
        )
        self._server = ThreadingHTTPServer((self.host, self.port), _handler(stamper, pki))
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Coffre's development RFC 3161 TSA")
    parser.add_argument("--pki", type=Path, required=True, help="dev PKI folder")
    parser.add_argument("--port", type=int, default=DEFAULT_TSA_PORT)
    args = parser.parse_args()
    tsa = DevTsa(args.pki, port=args.port).start()
    print(f"tsa listening on {tsa.url}", flush=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    stopping.wait()
    tsa.stop()


if __name__ == "__main__":
    main()

"""No secret reaches a log line (issue item 5f)."""

from __future__ import annotations

import json

import pytest
from coffre_testing.app import LogCapture
from common.logging import configure_logging, get_logger, mask_iban, redact_text

pytestmark = pytest.mark.unit

IBAN = "FR7630006000011234567890189"
SECRETS = [
    "hunter2-correct-horse",
    "123456",
    "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJlLWJ5dGVz",
    "s3cr3t-api-key-value",
    "pa55word-in-dsn",
    IBAN,
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
]


def _log_everything() -> LogCapture:
    capture = LogCapture()
    configure_logging("test", json=True, stream=capture)  # type: ignore[arg-type]
    log = get_logger("t")
    log.info("login", password=SECRETS[0], otp_code=SECRETS[1], access_token=SECRETS[2])
    log.info("config", api_key=SECRETS[3], url=f"postgresql://coffre:{SECRETS[4]}@db:5432/x")
    log.info("payee", creditor={"iban": IBAN, "name": "ACME"}, note=f"pay to {IBAN} now")
    log.info("header", detail=f"Authorization: Bearer {SECRETS[2]}")
    log.info("pem", blob=f"-----BEGIN PRIVATE KEY-----\n{SECRETS[6]}\n-----END PRIVATE KEY-----")
    log.info("nested", request={"body": {"credentials": {"user": "u", "pin": "9999"}}})
    return capture


def test_no_secret_value_reaches_a_log_line() -> None:
    text = _log_everything().text
    for secret in SECRETS:
        assert secret not in text
    assert "9999" not in text


def test_iban_is_masked_to_country_and_last_four() -> None:
    lines = _log_everything().lines()
    payee = next(line for line in lines if line["event"] == "payee")
    assert payee["creditor"]["iban"] == "FR**0189"
    assert "FR**0189" in payee["note"]
    assert payee["creditor"]["name"] == "ACME"


def test_log_lines_are_json_with_service_and_level() -> None:
    line = _log_everything().lines()[0]
    assert line["service"] == "test"
    assert line["level"] == "info"
    assert json.dumps(line)


def test_innocent_fields_are_kept() -> None:
    capture = LogCapture()
    configure_logging("test", json=True, stream=capture)  # type: ignore[arg-type]
    get_logger().info("payment_initiated", payment_id="p-1", amount="12.50", status_code=201)
    [line] = capture.lines()
    assert (line["payment_id"], line["amount"], line["status_code"]) == ("p-1", "12.50", 201)


def test_mask_iban_and_redact_text_helpers() -> None:
    assert mask_iban("DE89 3704 0044 0532 0130 00") == "DE**3000"
    assert "Bearer [REDACTED]" in redact_text("Authorization: Bearer abcdefghijklmnop")

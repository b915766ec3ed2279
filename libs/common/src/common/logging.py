"""Structured logging for every Coffre process.

Rules: log lines are events (``log.info("payment_initiated", payment_id=...)``), JSON when not
on a terminal, with the current trace_id and span_id bound; a redaction processor masks any
password, code, token, key, credential or IBAN — by field name and by value pattern — before a
line is rendered, so no secret reaches a log even by mistake.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog
from opentelemetry import trace

REDACTED = "[REDACTED]"

SENSITIVE_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|token|otp|code|pin|cvv|cvc|credential|api[_-]?key|"
    r"private|key_material|plaintext|authorization|cookie|iban|account_number|dsn|database_url|"
    r"recovery|signature|assertion|saml",
    re.IGNORECASE,
)
SAFE_KEYS = frozenset(
    {
        "event",
        "level",
        "logger",
        "timestamp",
        "trace_id",
        "span_id",
        "service",
        "error_code",
        "status_code",
        "code_kind",
        "key_id",
        "key_version",
        "kid",
        "token_id",
        "token_type",
    }
)
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
DSN_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
PEM = re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.DOTALL)


def mask_iban(iban: str) -> str:
    """Show only the country code and the last four characters of an account number."""
    compact = iban.replace(" ", "")
    return f"{compact[:2]}**{compact[-4:]}" if len(compact) > 6 else REDACTED


def redact_text(text: str) -> str:
    """Mask secret-looking values inside free text."""
    text = PEM.sub(REDACTED, text)
    text = JWT.sub(REDACTED, text)
    text = BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = DSN_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    return IBAN.sub(lambda m: mask_iban(m.group(0)), text)


def redact_value(key: str, value: Any) -> Any:
    if key not in SAFE_KEYS and SENSITIVE_KEY.search(key):
        if "iban" in key.lower() and isinstance(value, str):
            return mask_iban(value)
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(key, v) for v in value]
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    return value


def redact_event(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask every sensitive field and value."""
    for key in list(event_dict):
        event_dict[key] = redact_value(key, event_dict[key])
    return event_dict


def add_trace_context(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: bind the current OpenTelemetry trace and span ids."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event_dict.setdefault("span_id", format(ctx.span_id, "016x"))
    return event_dict


def configure_logging(
    service: str,
    *,
    level: str = "INFO",
    json: bool | None = None,
    stream: TextIO | None = None,
) -> None:
    """Configure structlog (and the stdlib root logger) for one process.

    Without ``stream``, every line goes to the ``sys.stdout`` of the moment it is written, not
    the one at configuration time: a replaced and closed stdout (a test's capture, a daemon's
    redirection) never turns later log calls into ``ValueError: I/O operation on closed file``.
    """
    out = stream or sys.stdout
    use_json = (not out.isatty()) if json is None else json
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_context,
        structlog.processors.format_exc_info,
        redact_event,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream) if stream else _current_stdout_logger,
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    handler = logging.StreamHandler(stream) if stream else _CurrentStdoutHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("uvicorn.error").setLevel(logging.INFO)


def _current_stdout_logger(*_args: Any) -> structlog.PrintLogger:
    return structlog.PrintLogger(sys.stdout)


class _CurrentStdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stdlib handler writing to whatever ``sys.stdout`` is when a record is emitted."""

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: object) -> None:
        """``StreamHandler.__init__`` assigns a stream; the current stdout always wins."""


def get_logger(name: str | None = None) -> Any:
    """A structlog logger; bind request or event fields on it, never secrets."""
    return structlog.get_logger(name)

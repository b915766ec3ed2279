"""The e-mail intake: an SMTP server (aiosmtpd) inside the service.

Rules: recipients are checked at RCPT (unknown address 550 5.1.1, one member per message,
at most `max_recipients`), the sender at RCPT too (550 5.7.1 unless a verified address of that
member); the message size is limited by the protocol itself (SIZE extension, 552 on DATA past
`max_message_bytes`); at DATA the message is accepted whole (250) or refused with its code.
In production the public MX (which checks SPF/DKIM/DMARC and terminates TLS) relays to it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from common.logging import get_logger

from archive.domain import mail
from archive.domain.mail import MailRefused
from archive.service import mail as mail_intake
from archive.service import processing
from archive.service.context import Context

log = get_logger(__name__)


class ReceiptsHandler:
    def __init__(self, ctx: Context, max_recipients: int, max_attachments: int) -> None:
        self._ctx = ctx
        self._max_recipients = max_recipients
        self._max_attachments = max_attachments
        self.tasks: set[asyncio.Task[Any]] = set()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        try:
            user_id = await mail_intake.member_for(self._ctx, address)
            if envelope.rcpt_tos:
                first = await mail_intake.member_for(self._ctx, envelope.rcpt_tos[0])
                if first != user_id or len(envelope.rcpt_tos) >= self._max_recipients:
                    raise mail.ONE_MEMBER_ONLY
            await mail_intake.check_sender(self._ctx, user_id, envelope.mail_from or "")
        except MailRefused as refused:
            log.info("mail_refused", stage="rcpt", code=refused.code, status=refused.status)
            return refused.reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        data = content if isinstance(content, bytes) else str(content).encode()
        try:
            user_id = await mail_intake.member_for(self._ctx, envelope.rcpt_tos[0])
            accepted = await mail_intake.accept_message(
                self._ctx, user_id, envelope.mail_from or "", data, self._max_attachments
            )
        except MailRefused as refused:
            log.info("mail_refused", stage="data", code=refused.code, status=refused.status)
            return refused.reply
        for entry in accepted:
            task = asyncio.create_task(
                processing.process(self._ctx, entry.receipt.receipt_id, entry)
            )
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        log.info("mail_accepted", receipts=len(accepted))
        return f"250 2.0.0 {len(accepted)} receipt(s) accepted"


async def start_smtp(
    ctx: Context,
    *,
    host: str,
    port: int,
    domain: str,
    max_message_bytes: int,
    max_recipients: int,
    max_attachments: int,
) -> tuple[asyncio.Server, ReceiptsHandler]:
    handler = ReceiptsHandler(ctx, max_recipients, max_attachments)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            handler,
            hostname=domain,
            ident="Coffre receipts",
            data_size_limit=max_message_bytes,
            enable_SMTPUTF8=True,
            timeout=60,
        ),
        host=host,
        port=port,
    )
    return server, handler

"""E-mail intake: a forwarded message becomes receipts (see `archive.domain.mail` for the rules).

Rules: recipients and senders are checked before the body is accepted; the message's parts are
all identified and rendered before anything is stored, then accepted together through
`intake.accept` (all or nothing). An HTML body is rendered from its text only: no remote
content is ever fetched.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser

from common.errors import CoffreError

from archive.domain import files, mail
from archive.domain.errors import ServiceUnavailable
from archive.domain.mail import MailRefused
from archive.domain.receipts import Source
from archive.service import intake
from archive.service.context import Context


async def member_for(ctx: Context, address: str) -> str:
    token = mail.token_of(address, ctx.policy.mail_domain)
    if token is None:
        raise mail.UNKNOWN_RECIPIENT
    async with ctx.uow() as uow:
        user_id = await uow.members.user_by_token(token)
    if user_id is None:
        raise mail.UNKNOWN_RECIPIENT
    return user_id


async def check_sender(ctx: Context, user_id: str, address: str) -> None:
    async with ctx.uow() as uow:
        allowed = await uow.members.is_sender(user_id, mail.normalise_address(address))
    if not allowed:
        raise mail.SENDER_NOT_ALLOWED


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "template", "noscript"):
            self._skip += 1
        elif tag in ("br", "p", "div", "tr", "h1", "h2", "h3", "table"):
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n• ")
        elif tag in ("td", "th"):
            self.parts.append("\t")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "template", "noscript") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "".join(parser.parts).strip()


def _attachments(message: EmailMessage, limit: int) -> list[EmailMessage]:
    found = []
    for part in message.walk():
        if part.is_multipart():
            continue
        disposition = part.get_content_disposition()
        ctype = part.get_content_type()
        if mail.is_archive(ctype, part.get_filename()):
            raise mail.NESTED_ARCHIVE
        if disposition == "attachment" or (disposition == "inline" and part.get_filename()):
            found.append(part)
        if len(found) > limit:
            raise mail.TOO_MANY_ATTACHMENTS
    return found


def _body_text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    content = body.get_content()
    text = content if isinstance(content, str) else ""
    return html_to_text(text) if body.get_content_type() == "text/html" else text


async def _items(
    ctx: Context, user_id: str, message: EmailMessage, limit: int
) -> list[intake.Incoming]:
    items = []
    for part in _attachments(message, limit):
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        name = files.clean_filename(part.get_filename(), fallback="attachment")
        items.append(intake.Incoming(user_id, Source.EMAIL, name, part.get_content_type(), content))
    if items:
        return items
    subject = str(message.get("Subject", "") or "Receipt")[:200]
    text = _body_text(message)
    if not text.strip():
        raise MailRefused(554, "5.6.0", "The message has no attachment and no text")
    pdf = await ctx.renderer.text_to_pdf(subject, text)
    raw = text.encode()
    return [intake.Incoming(user_id, Source.EMAIL, "message.txt", "text/plain", raw, rendered=pdf)]


async def accept_message(
    ctx: Context, user_id: str, sender: str, data: bytes, max_attachments: int
) -> list[intake.Accepted]:
    """Turn one message into receipts, or raise `MailRefused` with the SMTP answer."""
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    header_from = message.get("From", "")
    addresses = getattr(header_from, "addresses", ())
    if not addresses or any(
        mail.normalise_address(a.addr_spec) != mail.normalise_address(sender) for a in addresses
    ):
        raise mail.SENDER_NOT_ALLOWED
    try:
        items = await _items(ctx, user_id, message, max_attachments)
        return await intake.accept(ctx, items)
    except ServiceUnavailable:
        raise mail.TRY_LATER from None
    except CoffreError as exc:
        raise MailRefused(554, "5.6.0", f"Receipt refused: {exc.message}"[:200]) from None

"""The tamper-evident audit log: a hash chain over every decrypt, unwrap, grant and refusal.

Rules:
- Entry ``n`` stores ``hash_n = SHA-256(bytes(hash_{n-1}) || canonical_json(body_n))`` where the
  body holds every field but the hashes, ``seq`` included; entry 1 chains to 32 zero bytes.
- Canonical JSON: keys sorted, no whitespace, UTF-8, timestamps as ISO 8601 UTC microseconds.
- Verification walks the rows in ``seq`` order and reports the first edited, deleted or
  reordered row; a known head (``seq``, ``hash``) taken earlier also catches a cut-off tail.
- An entry never holds a secret, a key, a plaintext or a ciphertext: only ids, codes and names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from json.encoder import encode_basestring
from types import MappingProxyType
from typing import NamedTuple

GENESIS_HASH = "00" * 32

DetailValue = str | int | bool | None | list[str]


class Outcome(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    FAILED = "failed"


_NO_DETAIL: Mapping[str, DetailValue] = MappingProxyType({})


class AuditDraft(NamedTuple):
    """What the service knows about an event before the log places it in the chain. (An
    immutable tuple rather than a frozen dataclass, which costs four times as much to build: a
    batch builds one per key. Change it with ``draft._replace(...)``.)"""

    actor: str
    action: str
    outcome: Outcome
    subject: str | None = None
    purpose: str | None = None
    ref: str | None = None
    operator: str | None = None
    detail: Mapping[str, DetailValue] = _NO_DETAIL


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    outcome: Outcome
    subject: str | None
    purpose: str | None
    ref: str | None
    operator: str | None
    detail: Mapping[str, DetailValue]
    prev_hash: str
    hash: str
    canonical: bytes = field(default=b"", compare=False, repr=False)
    """The canonical JSON of the body the hash was computed over (set by ``chain``)."""

    def body(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "at": _iso(self.at),
            "actor": self.actor,
            "action": self.action,
            "outcome": str(self.outcome),
            "subject": self.subject,
            "purpose": self.purpose,
            "ref": self.ref,
            "operator": self.operator,
            "detail": dict(self.detail),
        }

    def computed_hash(self) -> str:
        return entry_hash(self.prev_hash, self.body())


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_STRING: Callable[[str], str] = encode_basestring  # the escaping ``_CANONICAL`` applies


def canonical_json(body: Mapping[str, object]) -> bytes:
    return _CANONICAL.encode(body).encode()


def _text(value: str | None) -> str:
    return "null" if value is None else _STRING(value)


def _detail_json(detail: Mapping[str, DetailValue]) -> str:
    if not detail:
        return "{}"
    if len(detail) == 1:
        [(key, value)] = detail.items()
        if type(value) is str:
            return f"{{{_STRING(key)}:{_STRING(value)}}}"
    return _CANONICAL.encode(detail)


@lru_cache(maxsize=4096)
def _shape(
    action: str, actor: str, operator: str | None, outcome: str, purpose: str | None
) -> tuple[str, str]:
    """The body's text before ``at`` and between ``detail`` and ``ref``: the same for every
    entry of one actor, action, outcome, purpose and operator, so escaped once."""
    return (
        f'{{"action":{_STRING(action)},"actor":{_STRING(actor)},"at":',
        f',"operator":{_text(operator)},"outcome":{_STRING(str(outcome))},'
        f'"purpose":{_text(purpose)},"ref":',
    )


def canonical_body(
    seq: int, at_text: str, draft: AuditDraft, detail: Mapping[str, DetailValue]
) -> bytes:
    """``canonical_json`` of an entry's body, byte for byte, without walking a dict: the body's
    keys are fixed, so they are written in sorted order directly (the common one-string detail
    too); every string is escaped by the very function the encoder uses."""
    return _body(seq, _STRING(at_text), draft, _detail_json(detail))


def _body(seq: int, at_json: str, draft: AuditDraft, detail_json: str) -> bytes:
    head, middle = _shape(draft.action, draft.actor, draft.operator, draft.outcome, draft.purpose)
    return (
        f'{head}{at_json},"detail":{detail_json}{middle}{_text(draft.ref)},"seq":{int(seq)},'
        f'"subject":{_text(draft.subject)}}}'
    ).encode()


def entry_hash(prev_hash: str, body: Mapping[str, object]) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical_json(body)).hexdigest()


def chain(
    previous: AuditEntry | Head | None, draft: AuditDraft, at: datetime, at_text: str = ""
) -> AuditEntry:
    """The entry that follows ``previous`` (the head, or None for the first) for ``draft``;
    ``at_text`` is ``at`` already formatted, when the caller has it."""
    prev_hash = previous.hash if previous else GENESIS_HASH
    at = at.astimezone(UTC)
    entry, _ = _link(previous.seq if previous else 0, prev_hash, bytes.fromhex(prev_hash),
                     draft, at, at_text or _iso(at))  # fmt: skip
    return entry


def _link(
    prev_seq: int, prev_hash: str, prev_digest: bytes, draft: AuditDraft, at: datetime, at_text: str
) -> tuple[AuditEntry, bytes]:
    """One link of the chain (``at`` already in UTC) and its digest, for the next link."""
    detail = dict(draft.detail)
    canonical = _body(prev_seq + 1, _STRING(at_text), draft, _detail_json(detail))
    digest = hashlib.sha256(prev_digest + canonical).digest()
    entry = AuditEntry(
        prev_seq + 1, at, draft.actor, draft.action, draft.outcome, draft.subject, draft.purpose,
        draft.ref, draft.operator, detail, prev_hash, digest.hex(), canonical,
    )  # fmt: skip
    return entry, digest


class AuditRequest(NamedTuple):
    """A draft waiting for the group-commit appender, and what it was decided on.

    ``subject_epoch`` names the subject state (subject, epoch) an answer was computed from; the
    entry is written only while that subject's epoch is still current. (A tuple: a batch builds
    one per key.)"""

    draft: AuditDraft
    at: datetime
    subject_epoch: tuple[str, int] | None = None


class Link(NamedTuple):
    """An entry as the chain placed it: what a batch write stores beside the draft's fields
    (``canonical`` is the body its hash was computed over). A tuple: a batch builds one per key."""

    seq: int
    prev_hash: str
    hash: str
    canonical: bytes

    def entry(self, draft: AuditDraft, at: datetime) -> AuditEntry:
        return AuditEntry(
            self.seq, at.astimezone(UTC), draft.actor, draft.action, draft.outcome, draft.subject,
            draft.purpose, draft.ref, draft.operator, dict(draft.detail), self.prev_hash,
            self.hash, self.canonical,
        )  # fmt: skip


def chain_batch(
    head: Head | None, requests: Sequence[AuditRequest], skip: Set[int] = frozenset()
) -> list[AuditEntry | None]:
    """Chain the requests after ``head`` in order; those whose index is in ``skip`` get None."""
    links = chain_links(head, requests, skip)
    return [
        None if link is None else link.entry(request.draft, request.at)
        for link, request in zip(links, requests, strict=True)
    ]


def chain_links(
    head: Head | None, requests: Sequence[AuditRequest], skip: Set[int] = frozenset()
) -> list[Link | None]:
    """``chain_batch`` without building the entries: each request's link (the same seq and
    hashes), None for those whose index is in ``skip``."""
    links: list[Link | None] = []
    seq, prev_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    prev_digest = bytes.fromhex(prev_hash)
    last_at: datetime | None = None
    at_json = ""
    details: dict[int, tuple[Mapping[str, DetailValue], str]] = {}
    sha256 = hashlib.sha256
    for index, (draft, at, _) in enumerate(requests):
        if skip and index in skip:
            links.append(None)
            continue
        if at is not last_at:
            last_at, at_json = at, _STRING(_iso(at))
        known = details.get(id(draft.detail))
        if known is None or known[0] is not draft.detail:
            known = details[id(draft.detail)] = (draft.detail, _detail_json(draft.detail))
        seq += 1
        canonical = _body(seq, at_json, draft, known[1])
        prev_digest = sha256(prev_digest + canonical).digest()
        link = Link(seq, prev_hash, prev_digest.hex(), canonical)
        prev_hash = link.hash
        links.append(link)
    return links


def stale_requests(requests: Sequence[AuditRequest], epochs: Mapping[str, int]) -> set[int]:
    """Indexes of requests decided on a subject state that has moved since (0: never moved)."""
    return {
        index
        for index, request in enumerate(requests)
        if request.subject_epoch is not None
        and epochs.get(request.subject_epoch[0], 0) != request.subject_epoch[1]
    }


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


class ProblemKind(StrEnum):
    EDITED = "edited"
    MISSING = "missing"
    REORDERED = "reordered"
    BROKEN_LINK = "broken-link"
    HEAD_MISMATCH = "head-mismatch"


@dataclass(frozen=True, slots=True)
class ChainProblem:
    seq: int
    kind: ProblemKind
    message: str


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    checked: int
    head: Head | None
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


class ChainVerifier:
    """Feed entries in stored order; the first sign of tampering stops the walk.

    Each anchor (a head recorded earlier, inside or outside the vault) must lie on the chain.
    """

    def __init__(self, *anchors: Head | None) -> None:
        self.anchors = {a.seq: a.hash for a in anchors if a is not None}
        self.checked = 0
        self.head: Head | None = None
        self.problem: ChainProblem | None = None

    @classmethod
    def after(cls, start: Head, *anchors: Head | None) -> ChainVerifier:
        """A verifier that continues the chain after ``start``, a head verified before (whose
        row the caller checks with ``check_start``)."""
        verifier = cls(*anchors)
        verifier.head = start
        return verifier

    def feed(self, entry: AuditEntry) -> bool:
        """Check one entry; returns False once a problem is found."""
        if self.problem is not None:
            return False
        expected_seq = self.head.seq + 1 if self.head else 1
        prev_hash = self.head.hash if self.head else GENESIS_HASH
        self.problem = _check_entry(entry, expected_seq, prev_hash)
        if self.problem is None and self.anchors.get(entry.seq, entry.hash) != entry.hash:
            self.problem = _problem(entry.seq, ProblemKind.HEAD_MISMATCH)
        if self.problem is not None:
            return False
        self.checked += 1
        self.head = Head(entry.seq, entry.hash)
        return True

    def report(self) -> VerifyReport:
        problem = self.problem
        last = self.head.seq if self.head else 0
        beyond = [seq for seq in self.anchors if seq > last]
        if problem is None and beyond:
            problem = _problem(min(beyond), ProblemKind.MISSING)
        return VerifyReport(self.checked, self.head, problem)


def verify_chain(entries: Iterable[AuditEntry], expected_head: Head | None = None) -> VerifyReport:
    verifier = ChainVerifier(expected_head)
    for entry in entries:
        if not verifier.feed(entry):
            break
    return verifier.report()


def check_start(start: Head, entry: AuditEntry | None) -> ChainProblem | None:
    """The row of a head verified before (``entry``, the first at or after ``start.seq``) must
    still be there, unedited and with the same hash."""
    if entry is None or entry.seq != start.seq:
        return _problem(start.seq, ProblemKind.MISSING)
    if entry.computed_hash() != entry.hash:
        return _problem(start.seq, ProblemKind.EDITED)
    if entry.hash != start.hash:
        return _problem(start.seq, ProblemKind.HEAD_MISMATCH)
    return None


def _check_entry(entry: AuditEntry, expected_seq: int, prev_hash: str) -> ChainProblem | None:
    if entry.seq > expected_seq:
        return _problem(expected_seq, ProblemKind.MISSING)
    if entry.seq < expected_seq:
        return _problem(entry.seq, ProblemKind.REORDERED)
    if entry.computed_hash() != entry.hash:
        return _problem(entry.seq, ProblemKind.EDITED)
    if entry.prev_hash != prev_hash:
        return _problem(entry.seq, ProblemKind.BROKEN_LINK)
    return None


_MESSAGES = {
    ProblemKind.EDITED: "the entry's content does not match its hash",
    ProblemKind.MISSING: "an entry is missing at this position",
    ProblemKind.REORDERED: "the entry is out of sequence",
    ProblemKind.BROKEN_LINK: "the entry does not chain to the one before it",
    ProblemKind.HEAD_MISMATCH: "the entry differs from the head recorded earlier",
}


def _problem(seq: int, kind: ProblemKind) -> ChainProblem:
    return ChainProblem(seq, kind, _MESSAGES[kind])

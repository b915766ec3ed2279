"""Unwrapping document keys, one or a batch, decided set-based on the cached subject state.

Rules:
- Each item passes the names check and the purpose policy, then its token must be a document
  key token under its subject's live data key (same version), opened with AAD
  ``subject|purpose|document_key_id|version``; a held subject opens nothing. Each item gets the
  answer and the audit entry (allowed, denied or failed) it would get alone; a bad item does not
  fail the others.
- What items share is worked out once per call: the policy and names per (subject, purpose), the
  state per subject, the key and its cipher per data key (which takes one cache use per item).
- Nothing leaves before every entry of the call is durable (one appender group); an item
  decided on a subject state that moved meanwhile is decided again from fresh state; if any entry
  could not be made durable the whole call fails with ``AuditUnavailable``: no key of it leaves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import NamedTuple

from common.errors import CoffreError

from vault.domain import crypto, names
from vault.domain.audit import AuditDraft, Outcome
from vault.domain.caller import Caller
from vault.domain.document_keys import HEADER, GeneratedKey, split, uuid_text
from vault.domain.erasure import hold_admits
from vault.domain.errors import CiphertextRejected, ConcurrentUpdate, Erased
from vault.domain.keys import DataKey
from vault.domain.policy import Action
from vault.service import metrics
from vault.service.context import VaultContext, draft_for, failed
from vault.service.subjects import SubjectState


class UnwrapItem(NamedTuple):
    """One wrapped key to open, as named by the caller (a tuple: a batch holds one per key)."""

    subject: str
    purpose: str
    wrapped: bytes


Unwrapped = GeneratedKey | CoffreError
Epoch = tuple[str, int] | None
Parsed = tuple[bytes, int, bytes] | CoffreError
Opener = crypto.Opener
_UNWRAP = str(Action.UNWRAP_DATA_KEY)


async def unwrap_data_key(
    ctx: VaultContext, caller: Caller, subject: str, purpose: str, wrapped: bytes
) -> GeneratedKey:
    [result] = await unwrap_many(
        ctx, caller, [UnwrapItem(subject, purpose, wrapped)], mode="single"
    )
    if isinstance(result, CoffreError):
        raise result
    return result


async def unwrap_many(
    ctx: VaultContext, caller: Caller, items: Sequence[UnwrapItem], *, mode: str = "batch"
) -> list[Unwrapped]:
    """Each item's key or its error, in order, every one audited; answered once all entries
    are durable."""
    results: list[Unwrapped | None] = [None] * len(items)
    todo = list(range(len(items)))
    for attempt in range(3):
        drafts, epochs, decided = await decide_many(
            ctx, caller, [items[i] for i in todo], fresh=attempt > 0
        )
        entries = await ctx.appender.submit(drafts, epochs)  # AuditUnavailable: no key leaves
        stale = []
        for index, entry, result in zip(todo, entries, decided, strict=True):
            if entry is None:
                ctx.subjects.evict(items[index].subject)
                stale.append(index)
            else:
                results[index] = result
        if not stale:
            break
        todo = stale
    else:
        raise ConcurrentUpdate()
    answered = [r for r in results if r is not None]
    metrics.count_unwraps(mode, answered)
    return answered


async def decide_many(
    ctx: VaultContext, caller: Caller, items: Sequence[UnwrapItem], *, fresh: bool
) -> tuple[list[AuditDraft], list[Epoch], list[Unwrapped]]:
    """Each item's entry to write, the subject epoch it was decided on, and its result.

    Nothing of the results may leave before the entries are durable (``unwrap_many`` waits)."""
    batch = _Batch(ctx, caller)
    parsed = [batch.parse(item) for item in items]
    await batch.load_states(items, parsed, fresh)
    keys = [batch.key(item, token) for item, token in zip(items, parsed, strict=True)]
    await batch.open_keys(keys)
    drafts: list[AuditDraft] = []
    epochs: list[Epoch] = []
    results: list[Unwrapped] = []
    for item, token, key in zip(items, parsed, keys, strict=True):
        draft, epoch, result = batch.decide(item, token, key)
        drafts.append(draft)
        epochs.append(epoch)
        results.append(result)
    return drafts, epochs, results


def _error(check: Callable[[str], object], value: str) -> CoffreError | None:
    try:
        check(value)
    except CoffreError as exc:
        return exc
    return None


class _Batch:
    """What one call's items share: refusals per (subject, purpose), states per subject, an
    opener (or the error opening it gave) and the audit detail per data key."""

    def __init__(self, ctx: VaultContext, caller: Caller) -> None:
        self.ctx, self.caller = ctx, caller
        self.refusals: dict[tuple[str, str], CoffreError | None] = {}
        self.subjects: dict[str, CoffreError | None] = {}
        self.purposes: dict[str, CoffreError | None] = {}
        self.now = ctx.clock.timestamp()
        self.states: dict[str, SubjectState] = {}
        self.openers: dict[str, Opener | CoffreError] = {}
        self.details: dict[str, dict[str, str]] = {}

    def parse(self, item: UnwrapItem) -> Parsed:
        """The token's data key id and document key id (16 bytes each) and the key's version,
        or why the item is refused."""
        pair = (item.subject, item.purpose)
        if pair in self.refusals:
            refusal = self.refusals[pair]
        else:
            refusal = self.refusals[pair] = self._refusal(item)
        if refusal is not None:
            return refusal
        try:
            return split(item.wrapped)
        except CoffreError as exc:
            return exc

    def _refusal(self, item: UnwrapItem) -> CoffreError | None:
        """The names check (subject first, as a single call does), then the policy for the
        purpose, each worked out once per call."""
        if item.subject not in self.subjects:
            self.subjects[item.subject] = _error(names.subject, item.subject)
        if item.purpose not in self.purposes:
            self.purposes[item.purpose] = _error(self._check_purpose, item.purpose)
        return self.subjects[item.subject] or self.purposes[item.purpose]

    def _check_purpose(self, purpose: str) -> None:
        names.purpose(purpose)
        self.ctx.policy.check(self.caller.service, purpose, Action.UNWRAP_DATA_KEY)

    async def load_states(
        self, items: Sequence[UnwrapItem], parsed: list[Parsed], fresh: bool
    ) -> None:
        """Each subject's state: cached, or read again when ``fresh`` or when it lacks a key a
        token names."""
        stale: set[str] = set()
        for item, token in zip(items, parsed, strict=True):
            if isinstance(token, CoffreError) or item.subject in stale:
                continue
            state = self.states.get(item.subject)
            if state is None and not fresh:
                state = self.ctx.subjects.get(item.subject, self.now)
            if state is None or token[0] not in state.by_raw_id:
                stale.add(item.subject)
            else:
                self.states[item.subject] = state
        for subject in stale:
            self.states[subject] = await self.ctx.subjects.load(self.ctx.uow, subject)

    async def open_keys(self, keys: list[DataKey | CoffreError]) -> None:
        """Each data key the items use, opened once for as many uses as items use it."""
        uses: Counter[str] = Counter()
        by_id: dict[str, DataKey] = {}
        for key in keys:
            if isinstance(key, DataKey):
                uses[key.key_id] += 1
                by_id[key.key_id] = key
        for key_id, count in uses.items():
            self.openers[key_id] = await self._opener(by_id[key_id], count)
            self.details[key_id] = {"key_id": key_id}

    def key(self, item: UnwrapItem, token: Parsed) -> DataKey | CoffreError:
        """The live-looking data key the token names, or why the item is refused."""
        if isinstance(token, CoffreError):
            return token
        state = self.states[item.subject]
        if state.hold and not hold_admits(
            self.ctx.policy, self.caller.service, item.purpose, Action.UNWRAP_DATA_KEY
        ):
            return Erased()
        key = state.by_raw_id.get(token[0])
        if key is None or key.version != token[1]:
            return CiphertextRejected()
        return key

    async def _opener(self, key: DataKey, uses: int) -> Opener | CoffreError:
        try:
            opener = self.ctx.keyring.opener_cached(key, uses, self.now)
            if opener is None:
                async with self.ctx.uow() as uow:
                    opener = crypto.opener(await self.ctx.keyring.open(uow, key))
        except CoffreError as exc:
            return exc
        return opener

    def decide(
        self, item: UnwrapItem, token: Parsed, key: DataKey | CoffreError
    ) -> tuple[AuditDraft, Epoch, Unwrapped]:
        if isinstance(key, CoffreError):
            return self._failed(item, token, key)
        opener = self.openers[key.key_id]
        if isinstance(opener, CoffreError):
            return self._failed(item, token, opener)
        assert not isinstance(token, CoffreError)
        document_key_id = uuid_text(token[2])
        aad = f"{item.subject}|{item.purpose}|{document_key_id}|{key.version}".encode()
        try:
            document_key = opener(item.wrapped[HEADER:], aad)
        except CoffreError as exc:
            return self._failed(item, token, exc)
        allowed = AuditDraft(
            self.caller.service, _UNWRAP, Outcome.ALLOWED, item.subject, item.purpose,
            document_key_id, self.caller.operator, self.details[key.key_id],
        )  # fmt: skip
        state = self.states[item.subject]
        result = GeneratedKey(document_key_id, document_key, item.wrapped)
        return allowed, (state.subject, state.epoch), result

    def _failed(
        self, item: UnwrapItem, token: Parsed, exc: CoffreError
    ) -> tuple[AuditDraft, Epoch, Unwrapped]:
        ref = None if isinstance(token, CoffreError) else uuid_text(token[2])
        draft = draft_for(self.caller, _UNWRAP, subject=item.subject, purpose=item.purpose, ref=ref)
        return failed(draft, exc), None, exc

"""The member's transactions as a sync feed: added, modified and removed since a cursor.

Rules: a page holds at most `limit` changes in feed order and a cursor to continue from;
`has_more` says whether to call again. A transaction appears once per page, in its latest
state: added if it is new since the cursor, modified if the client knew it, removed (its
reference only) if the client knew it and it is gone. One that came and went since the cursor
is not mentioned. A member only ever reads their own feed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aggregation.domain.feed import decode_cursor, encode_cursor
from aggregation.domain.transactions import StoredTransaction
from aggregation.service.context import Context

MAX_PAGE = 500


@dataclass
class FeedPage:
    next_cursor: str
    has_more: bool
    added: list[StoredTransaction] = field(default_factory=list)
    modified: list[StoredTransaction] = field(default_factory=list)
    removed: list[StoredTransaction] = field(default_factory=list)


async def changes_since(ctx: Context, user_id: str, cursor: str | None, limit: int) -> FeedPage:
    since = decode_cursor(cursor)
    limit = max(1, min(limit, MAX_PAGE))
    async with ctx.uow() as uow:
        rows = await uow.transactions.changes_since(user_id, since, limit + 1)
    has_more = len(rows) > limit
    rows = rows[:limit]
    page = FeedPage(encode_cursor(rows[-1].version if rows else since), has_more)
    for row in rows:
        known = row.created_version <= since
        if row.removed:
            if known:
                page.removed.append(row)
        elif known:
            page.modified.append(row)
        else:
            page.added.append(row)
    return page

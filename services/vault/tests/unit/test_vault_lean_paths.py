"""Which requests the lean unwrap layer looks at: exactly the POSTs the router would send to the
two unwrap routes (a path segment is anything but ``/``); everything else passes on untouched."""

from __future__ import annotations

from typing import Any

from vault.entrypoints.lean import BATCH, SINGLE, _hot_route


def _scope(path: str, method: str = "POST", root_path: str = "") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": root_path}


def test_only_posts_to_the_two_unwrap_routes_are_looked_at() -> None:
    assert _hot_route(_scope("/v1/subjects/member-1/data-keys/unwrap")) == (SINGLE, "member-1")
    assert _hot_route(_scope("/v1/subjects/a b|c/data-keys/unwrap")) == (SINGLE, "a b|c")
    assert _hot_route(_scope("/v1/data-keys/unwrap-batch")) == (BATCH, "")
    passed_on = [
        _scope("/v1/subjects//data-keys/unwrap"),
        _scope("/v1/subjects/a/b/data-keys/unwrap"),
        _scope("/v1/subjects/data-keys/unwrap"),
        _scope("/v1/subjects/m/data-keys/unwrap/"),
        _scope("/v1/subjects/m/data-keys"),
        _scope("/v1/data-keys/unwrap-batch/"),
        _scope("/v1/subjects/m/data-keys/unwrap", method="GET"),
        _scope("/v1/data-keys/unwrap-batch", method="PUT"),
        _scope("/v1/data-keys/unwrap-batch", root_path="/vault"),
        {"type": "websocket", "path": "/v1/data-keys/unwrap-batch"},
    ]
    for scope in passed_on:
        assert _hot_route(scope) == (None, ""), scope

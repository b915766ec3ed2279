"""The AsyncAPI document covers every registered event, and every field is described."""

from __future__ import annotations

import pytest
from common.asyncapi import build_asyncapi
from common.events import registered_events
from common.events.base import is_contract

pytestmark = pytest.mark.unit


def _domain_events() -> dict[tuple[str, int], type]:
    return {key: cls for key, cls in registered_events().items() if is_contract(cls)}


def test_every_registered_event_is_a_channel_on_its_topic() -> None:
    document = build_asyncapi()
    assert document["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in document["channels"].values()}
    for cls in _domain_events().values():
        assert cls.topic() in addresses
    assert "coffre.dead-letter.v1" in addresses


def test_every_event_field_has_a_description() -> None:
    undescribed = [
        f"{cls.__name__}.{name}"
        for cls in _domain_events().values()
        for name, field in cls.model_fields.items()
        if not field.description
    ]
    assert undescribed == []

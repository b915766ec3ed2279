"""Migrations go up, down and up again cleanly."""

from __future__ import annotations

import pytest
from coffre_testing.example.service import MIGRATIONS
from common.db import Database, MigrationSet, downgrade, migrate


async def _tables(db: Database) -> set[str]:
    rows = await db.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", db.schema
    )
    return {r["table_name"] for r in rows}


@pytest.mark.integration
@pytest.mark.asyncio
async def test_up_down_up(infra, schema_name):
    db = await Database.connect(infra.database_url, schema_name)
    example = MigrationSet.from_folder("example", MIGRATIONS)
    try:
        applied = await migrate(db, example)
        assert applied == [
            "common:0001_outbox_inbox",
            "common:0002_relay_lease_and_purge",
            "common:0005_erased_subjects",
            "example:0001_notes",
        ]
        tables = await _tables(db)
        assert {"outbox", "inbox", "outbox_relay_lease", "erased_subjects", "notes"} <= tables
        assert "note_effects" in tables
        assert await migrate(db, example) == []
        assert await downgrade(db, example) == ["example:0001_notes"]
        assert "notes" not in await _tables(db)
        assert await migrate(db, example) == ["example:0001_notes"]
        assert "notes" in await _tables(db)
    finally:
        await db.close()


@pytest.mark.unit
def test_a_migration_without_its_down_file_is_refused(tmp_path):
    (tmp_path / "0001_x.up.sql").write_text("SELECT 1")
    with pytest.raises(ValueError, match="both up and down"):
        MigrationSet.from_folder("broken", tmp_path)

"""Master key rotation: new version, batched re-wrap of data keys, retirement of the old.

Rules:
- ``start_or_resume`` creates master version N+1 (the old active one becomes decrypt-only) and
  a rotation record, or picks up the rotation that is already running.
- Each batch re-wraps up to ``batch_size`` data keys and commits them together with the cursor,
  an audit entry and a ``RotationProgressed`` event; a crash loses at most the batch in flight.
- Once the cursor reaches the end, the scan starts over while any live key is still under an
  old version (a write that read the old active version just before the rotation began may
  commit its key behind the cursor), so a rotation can always finish.
- When nothing is left to re-wrap, every decrypt-only version no data key uses is retired.
- Data is never re-encrypted: only wrapped data keys change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace

from common.events.vault import MasterKeyRetired, RotationProgressed

from vault.domain.caller import VAULT, Caller
from vault.domain.errors import RotationConflict
from vault.domain.keys import MasterKeyState
from vault.domain.rotation import Progress, Rotation, RotationStatus
from vault.service.context import VaultContext, draft_for, record

ProgressCallback = Callable[[Progress], None]
SUBJECT = "vault"


async def start_or_resume(ctx: VaultContext) -> Rotation:
    async with ctx.uow() as uow:
        current = await uow.rotations.current()
        if current is not None:
            remaining = await uow.data_keys.count_not_under(current.to_version)
            return replace(current, total=current.rewrapped + remaining)
        active = await ctx.keyring.active_master(uow)
        await uow.master_keys.save(active.demote())
        new = await ctx.keyring.create_master(uow, active.version + 1)
        rotation = Rotation(
            rotation_id=str(uuid.uuid4()),
            to_version=new.version,
            status=RotationStatus.RUNNING,
            cursor=None,
            rewrapped=0,
            total=await uow.data_keys.count_not_under(new.version),
            started_at=ctx.clock.now(),
        )
        await uow.rotations.save(rotation)
        draft = draft_for(Caller(VAULT), "rotation.start", ref=rotation.rotation_id)
        await record(uow, ctx, draft, to_version=new.version, total=rotation.total)
        await uow.commit()
    return rotation


async def run_batch(ctx: VaultContext, rotation: Rotation, batch_size: int) -> tuple[Rotation, int]:
    """Re-wrap one batch; returns the advanced rotation and how many keys it re-wrapped."""
    async with ctx.uow() as uow:
        current = await uow.rotations.current()
        if current is None or current.rotation_id != rotation.rotation_id:
            raise RotationConflict("the rotation is no longer running")
        keys = await uow.data_keys.batch_not_under(current.to_version, current.cursor, batch_size)
        if not keys and current.cursor is not None:
            keys = await uow.data_keys.batch_not_under(current.to_version, None, batch_size)
        if not keys:
            return replace(current, total=rotation.total), 0
        rewrapped = []
        for key in keys:
            plaintext = await ctx.keyring.open(uow, key)
            wrapped = await ctx.keyring.wrap(uow, key, plaintext, current.to_version)
            rewrapped.append(key.rewrapped(wrapped, current.to_version))
        await uow.data_keys.rewrap(rewrapped)
        advanced = current.advanced(keys[-1].key_id, len(keys))
        advanced = replace(advanced, total=max(rotation.total, advanced.rewrapped))
        await uow.rotations.save(advanced)
        draft = draft_for(Caller(VAULT), "rotation.batch", ref=rotation.rotation_id)
        await record(uow, ctx, draft, rewrapped=len(keys), cursor=advanced.cursor)
        uow.publish(_progress_event(advanced, done=False), subject=SUBJECT)
        await uow.commit()
    return advanced, len(keys)


async def finish(ctx: VaultContext, rotation: Rotation) -> tuple[Rotation, list[int]]:
    """Retire every unused decrypt-only version and close the rotation."""
    retired: list[int] = []
    async with ctx.uow() as uow:
        if await uow.data_keys.count_not_under(rotation.to_version):
            raise RotationConflict("data keys are still wrapped under an old master version")
        for key in await uow.master_keys.all():
            if key.state is MasterKeyState.DECRYPT_ONLY and not await uow.data_keys.count_under(
                key.version
            ):
                await uow.master_keys.save(key.retire(ctx.clock.now()))
                ctx.keyring.forget_master(key.version)
                retired.append(key.version)
                uow.publish(
                    MasterKeyRetired(version=key.version, rotation_id=rotation.rotation_id),
                    subject=SUBJECT,
                )
        done = rotation.finished(ctx.clock.now())
        await uow.rotations.save(done)
        draft = draft_for(Caller(VAULT), "rotation.finish", ref=rotation.rotation_id)
        await record(uow, ctx, draft, rewrapped=done.rewrapped, retired=[str(v) for v in retired])
        uow.publish(_progress_event(done, done=True), subject=SUBJECT)
        await uow.commit()
    return done, retired


async def rotate(
    ctx: VaultContext,
    *,
    batch_size: int = 500,
    on_progress: ProgressCallback | None = None,
    max_batches: int | None = None,
) -> Rotation:
    """Run (or resume) a rotation to the end, or for ``max_batches`` batches."""
    rotation = await start_or_resume(ctx)
    _notify(on_progress, rotation, done=False)
    batches = 0
    while max_batches is None or batches < max_batches:
        advanced, count = await run_batch(ctx, rotation, batch_size)
        if count == 0:
            rotation, _ = await finish(ctx, advanced)
            _notify(on_progress, rotation, done=True)
            return rotation
        rotation, batches = advanced, batches + 1
        _notify(on_progress, rotation, done=False)
    return rotation


def _notify(callback: ProgressCallback | None, rotation: Rotation, *, done: bool) -> None:
    if callback is not None:
        callback(
            Progress(
                rotation.rotation_id, rotation.to_version, rotation.rewrapped, rotation.total, done
            )
        )


def _progress_event(rotation: Rotation, *, done: bool) -> RotationProgressed:
    return RotationProgressed(
        rotation_id=rotation.rotation_id,
        to_version=rotation.to_version,
        rewrapped=rotation.rewrapped,
        total=rotation.total,
        done=done,
    )

"""Changing the factors of an account that has one needs a proof from it, not just a session."""

from __future__ import annotations

import pytest
from auth.domain.errors import CodeAlreadyUsed, InvalidCode, ProofRequired
from auth.service import factors
from auth_unit_helpers import CTX, Harness
from common.events.auth import FactorEnrolled

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]

OTHER_PHONE = "+33698765432"


async def test_replacing_the_phone_needs_a_proof(h: Harness) -> None:
    user_id = await h.account()
    codes = await h.with_phone(user_id)
    with pytest.raises(ProofRequired):
        await factors.start_phone(h.deps, user_id, OTHER_PHONE, CTX)
    with pytest.raises(InvalidCode):
        await factors.start_phone(h.deps, user_id, OTHER_PHONE, CTX, proof="AAAA-BBBB-CCCC-DDDD")
    assert h.sms.last_to(OTHER_PHONE) is None
    assert h.state.failures[f"acct:{user_id}"].failures == 1
    challenge = await factors.start_phone(h.deps, user_id, OTHER_PHONE, CTX, proof=codes[0])
    await factors.confirm_phone(h.deps, user_id, challenge.id, h.last_code(OTHER_PHONE), CTX)
    assert h.state.accounts[user_id].phone == OTHER_PHONE


async def test_adding_an_app_next_to_a_phone_needs_a_proof(h: Harness) -> None:
    user_id = await h.account()
    codes = await h.with_phone(user_id)
    with pytest.raises(ProofRequired):
        await factors.start_totp(h.deps, user_id, CTX)
    assert user_id not in h.state.totp
    enrolment = await factors.start_totp(h.deps, user_id, CTX, proof=codes[1])
    assert enrolment.secret
    with pytest.raises(InvalidCode):
        await factors.start_totp(h.deps, user_id, CTX, proof=codes[1])


async def test_new_recovery_codes_need_a_proof_and_replace_the_old_ones(h: Harness) -> None:
    user_id = await h.account()
    totp, old = await h.with_totp(user_id)
    with pytest.raises(ProofRequired):
        await factors.regenerate_recovery_codes(h.deps, user_id, None, CTX)
    with pytest.raises(InvalidCode):
        await factors.regenerate_recovery_codes(h.deps, user_id, "000000", CTX)
    fresh = await factors.regenerate_recovery_codes(h.deps, user_id, totp.at(h.clock.now()), CTX)
    assert len(fresh) == 10
    assert not set(fresh) & set(old)
    with pytest.raises(InvalidCode):
        await factors.regenerate_recovery_codes(h.deps, user_id, old[2], CTX)
    assert [e.factor for e in h.state.of_type(FactorEnrolled)].count("recovery-codes") == 2


async def test_first_factor_needs_no_proof(h: Harness) -> None:
    user_id = await h.account()
    assert (await factors.start_totp(h.deps, user_id, CTX)).secret
    assert (await factors.start_phone(h.deps, user_id, OTHER_PHONE, CTX)).id


async def test_a_replayed_totp_proof_is_refused_without_counting_towards_the_lockout(
    h: Harness,
) -> None:
    user_id = await h.account()
    totp, _ = await h.with_totp(user_id)
    code = totp.at(h.clock.now())
    assert await factors.regenerate_recovery_codes(h.deps, user_id, code, CTX)
    for _ in range(6):
        with pytest.raises(CodeAlreadyUsed):
            await factors.regenerate_recovery_codes(h.deps, user_id, code, CTX)
    assert h.state.failures.get(f"acct:{user_id}") is None or (
        h.state.failures[f"acct:{user_id}"].failures == 0
    )
    h.clock.advance(seconds=30)
    assert await factors.regenerate_recovery_codes(h.deps, user_id, totp.at(h.clock.now()), CTX)

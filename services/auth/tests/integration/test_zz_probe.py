from __future__ import annotations
import json, uuid
import pytest
from auth_it_helpers import PASSWORD, UA, bearer, login, register
from conftest import RunningAuth

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]
OP = {"kind":"payment","amount":"1.5","currency":"EUR","payee":"FR7630006000011234567890189","operation_id":"op-1"}
ROUTES = [
 ("/v1/accounts", {"email":"new@example.org","password":PASSWORD}),
 ("/v1/accounts/verify", {"token":"a"*20}),
 ("/v1/login", {"email":"x@example.org","password":PASSWORD,"scope":"member"}),
 ("/v1/login/sms", {"ticket":"a"*20}),
 ("/v1/login/second-factor", {"ticket":"a"*20,"method":"sms","code":"123456"}),
 ("/v1/token/refresh", {"refresh_token":"a"*20}),
 ("/v1/factors/totp/confirm", {"code":"123456"}),
 ("/v1/factors/sms", {"phone":"+33612345678"}),
 ("/v1/factors/sms/confirm", {"challenge_id":str(uuid.uuid4()),"code":"123456"}),
 ("/v1/factors/totp/remove", {"proof":"123456"}),
 ("/v1/step-up/challenges", {"operation":OP,"method":"totp"}),
 ("/v1/step-up/challenges/%s/verify" % uuid.uuid4(), {"code":"123456"}),
 ("/v1/accounts/me/delete", {"password":"wrong"}),
]
def mutations(body, prefix=(), root=None):
    root = root or body
    for k, v in body.items():
        if isinstance(v, dict):
            yield from mutations(v, prefix + (k,), root)
            continue
        for bad in (1, [], {}, None, True, "\x00", "a\x00b"*5, "\ud800"*3, "a\ud800b"*5, "x"*10000, "", " "*20):
            yield ".".join(prefix+(k,)) + "=" + repr(bad)[:20], set_(root, prefix + (k,), bad)
def set_(body, path, value):
    out = json.loads(json.dumps(body))
    cur = out
    for p in path[:-1]: cur = cur[p]
    cur[path[-1]] = value
    return out

from test_auth_postgres import instance
async def test_probe(infra, schema_name) -> None:
  async with instance(infra, schema_name, trust_forwarded_for=True, rate_sms_per_account=10000) as auth:
    c = auth.client
    email = f"probe-{uuid.uuid4().hex[:6]}@example.org"
    await register(c, auth.mailer, email)
    tok = bearer((await login(c, email))["tokens"])
    bad = []
    import pyotp
    from auth_it_helpers import last_code
    r = await c.post("/v1/factors/totp", headers=tok)
    totp = pyotp.TOTP(r.json()["secret"])
    r = await c.post("/v1/factors/totp/confirm", json={"code": totp.now()}, headers=tok)
    assert r.status_code == 200
    r = await c.post("/v1/factors/sms", json={"phone": "+33612345678"}, headers=tok)
    assert r.status_code == 202, r.text
    r = await c.post("/v1/factors/sms/confirm", json={"challenge_id": r.json()["challenge_id"], "code": last_code(auth.sms, "+33612345678")}, headers=tok)
    print("PHONE", r.status_code, r.text)
    for payee in ("a\x00b", "\x00", "é" * 100, "\u202e" * 10):
        for m in ("sms", "totp"):
            r = await c.post("/v1/step-up/challenges", json={"operation": {**OP, "payee": payee, "operation_id": payee}, "method": m}, headers=tok)
            print("STEP", repr(payee), m, r.status_code, r.text[:200])
    for path, body in ROUTES:
        for name, b in mutations(body):
            raw = json.dumps(b).encode()
            r = await c.post(path, content=raw, headers={**tok, "content-type": "application/json", "x-forwarded-for": f"10.{len(bad)}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"})
            print('S', path[:30], name, r.status_code, r.json().get('code'))
            if not (400 <= r.status_code < 500) or not r.headers.get("content-type","").startswith("application/problem+json"):
                bad.append((path, name, r.status_code, r.text[:100]))
    for b in bad: print(b)
    assert not bad

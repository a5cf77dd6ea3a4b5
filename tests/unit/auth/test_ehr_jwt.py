"""The CDS client's JWT: every rule of CDS Hooks 2.0 against a real loopback JWK Set."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from service.auth import InvalidToken, KeysUnavailable
from service.auth.ehr_jwt import EhrJwtVerifier
from service.auth.replay import DataDirError, SqliteReplayGuard
from service.settings.cds import CdsIssuer
from tests.builders.cds import EHR_ISSUER, ehr_issuer, ehr_jwt
from tests.builders.tokens import Issuer, JwksServer, jwks_server

AUD = "https://her2.test/cds-services/her2-status"


@pytest.fixture
def rogue() -> Iterator[JwksServer]:
    """A JWK Set nobody allow-listed, with a key of the EHR's kid."""
    with jwks_server(ehr_issuer(**{"ec-1": "ES384"})) as server:
        yield server


def _verifier(jwks: JwksServer, tmp_path: Path, **issuer: object) -> EhrJwtVerifier:
    allowed = CdsIssuer(EHR_ISSUER, jwks.url, **issuer)  # type: ignore[arg-type]
    return EhrJwtVerifier({EHR_ISSUER: allowed}, 300, SqliteReplayGuard(tmp_path / "data"))


def _reason(verifier: EhrJwtVerifier, token: str, audience: str = AUD) -> str:
    with pytest.raises(InvalidToken) as info:
        verifier.verify(token, audience)
    return info.value.reason


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims() -> dict[str, object]:
    now = int(time.time())
    return {"iss": EHR_ISSUER, "aud": AUD, "iat": now, "exp": now + 60, "jti": "j-1"}


@pytest.mark.parametrize("kid", ["ec-1", "rsa-1"])
def test_es384_and_rs384_tokens_pass(
    ehr: Issuer, jwks: JwksServer, tmp_path: Path, kid: str
) -> None:
    caller = _verifier(jwks, tmp_path).verify(ehr_jwt(ehr, AUD, kid=kid), AUD)
    assert caller.issuer == EHR_ISSUER
    assert caller.tenant == "tenant-1"


def test_an_audience_array_naming_the_endpoint_passes(
    ehr: Issuer, jwks: JwksServer, tmp_path: Path
) -> None:
    token = ehr_jwt(ehr, ["https://other.test/x", AUD])
    assert _verifier(jwks, tmp_path).verify(token, AUD).issuer == EHR_ISSUER


def test_alg_none_is_refused(jwks: JwksServer, tmp_path: Path) -> None:
    token = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': 'ec-1'})}.{_b64(_claims())}."
    assert _reason(_verifier(jwks, tmp_path), token) == "algorithm"
    assert jwks.fetches == 0


def _hs256(secret: bytes) -> str:
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': 'rsa-1'})}.{_b64(_claims())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_hmac_is_refused_even_keyed_with_the_public_key(jwks: JwksServer, tmp_path: Path) -> None:
    public_pem = jwt.PyJWK(jwks.issuer.jwks()["keys"][1]).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for secret in (b"shared-secret-of-32-bytes-length!", public_pem):
        assert _reason(_verifier(jwks, tmp_path), _hs256(secret)) == "algorithm"
    assert jwks.fetches == 0


@pytest.mark.parametrize(("kid", "alg"), [("rsa-2", "RS256"), ("ec-2", "ES256")])
def test_other_asymmetric_algorithms_are_refused(
    ehr: Issuer, jwks: JwksServer, tmp_path: Path, kid: str, alg: str
) -> None:
    ehr.add_key(kid, alg)
    assert _reason(_verifier(jwks, tmp_path), ehr_jwt(ehr, AUD, kid=kid)) == "algorithm"


def test_a_key_of_the_other_family_is_refused(
    ehr: Issuer, jwks: JwksServer, tmp_path: Path
) -> None:
    _, rsa_key = ehr.keys["rsa-1"]
    token = jwt.encode(_claims(), rsa_key, algorithm="RS384", headers={"kid": "ec-1", "typ": "JWT"})
    assert _reason(_verifier(jwks, tmp_path), token) == "algorithm"


def test_typ_must_be_jwt(ehr: Issuer, jwks: JwksServer, tmp_path: Path) -> None:
    verifier = _verifier(jwks, tmp_path)
    assert _reason(verifier, ehr_jwt(ehr, AUD, headers={"typ": "at+jwt"})) == "typ"


def test_kid_is_required(ehr: Issuer, jwks: JwksServer, tmp_path: Path) -> None:
    alg, key = ehr.keys["ec-1"]
    token = jwt.encode(_claims(), key, algorithm=alg, headers={"typ": "JWT"})
    assert _reason(_verifier(jwks, tmp_path), token) == "kid"


def test_an_unknown_issuer_is_refused_without_a_fetch(
    ehr: Issuer, jwks: JwksServer, tmp_path: Path
) -> None:
    token = ehr_jwt(ehr, AUD, iss="https://evil.test/")
    assert _reason(_verifier(jwks, tmp_path), token) == "issuer"
    assert jwks.fetches == 0


def test_a_jku_not_on_the_allow_list_is_never_fetched(
    jwks: JwksServer, rogue: JwksServer, tmp_path: Path
) -> None:
    token = ehr_jwt(rogue.issuer, AUD, headers={"jku": rogue.url})
    assert _reason(_verifier(jwks, tmp_path), token) == "jku"
    assert rogue.fetches == 0
    assert jwks.fetches == 0


def test_an_allow_listed_jku_is_used(ehr: Issuer, rogue: JwksServer, tmp_path: Path) -> None:
    with jwks_server(ehr) as jwks:
        verifier = _verifier(jwks, tmp_path, jku=(rogue.url,))
        verifier.verify(ehr_jwt(rogue.issuer, AUD, headers={"jku": rogue.url}), AUD)
        assert (rogue.fetches, jwks.fetches) == (1, 0)


def test_an_unknown_kid_is_refused(jwks: JwksServer, tmp_path: Path) -> None:
    other = ehr_issuer(**{"ec-9": "ES384"})
    other.issuer = EHR_ISSUER
    assert _reason(_verifier(jwks, tmp_path), ehr_jwt(other, AUD)) == "unknown-key"


def test_a_forged_signature_is_refused(jwks: JwksServer, rogue: JwksServer, tmp_path: Path) -> None:
    rogue.issuer.issuer = EHR_ISSUER
    assert _reason(_verifier(jwks, tmp_path), ehr_jwt(rogue.issuer, AUD)) == "signature"


def test_the_audience_must_be_the_endpoint_called(
    ehr: Issuer, jwks: JwksServer, tmp_path: Path
) -> None:
    verifier = _verifier(jwks, tmp_path)
    token = ehr_jwt(ehr, "https://her2.test/cds-services")
    assert _reason(verifier, token) == "audience"


def test_expired(ehr: Issuer, jwks: JwksServer, tmp_path: Path) -> None:
    token = ehr_jwt(ehr, AUD, iat=int(time.time()) - 200, lifetime=100)
    assert _reason(_verifier(jwks, tmp_path), token) == "expired"


def test_a_lifetime_over_the_cap_is_refused(ehr: Issuer, jwks: JwksServer, tmp_path: Path) -> None:
    verifier = _verifier(jwks, tmp_path)
    assert _reason(verifier, ehr_jwt(ehr, AUD, lifetime=301)) == "lifetime"
    verifier.verify(ehr_jwt(ehr, AUD, lifetime=300), AUD)


def test_issued_in_the_future_is_refused(ehr: Issuer, jwks: JwksServer, tmp_path: Path) -> None:
    token = ehr_jwt(ehr, AUD, iat=int(time.time()) + 600)
    assert _reason(_verifier(jwks, tmp_path), token) == "not-yet-valid"


@pytest.mark.parametrize(
    ("claim", "reason"),
    [
        ("jti", "missing-claim"),
        ("exp", "missing-claim"),
        ("iat", "missing-claim"),
        ("aud", "missing-claim"),
        # Without iss no allow-listed issuer (and no key) can be chosen at all.
        ("iss", "issuer"),
    ],
)
def test_required_claims(
    ehr: Issuer, jwks: JwksServer, tmp_path: Path, claim: str, reason: str
) -> None:
    token = ehr_jwt(ehr, AUD, omit=(claim,))
    assert _reason(_verifier(jwks, tmp_path), token) == reason


def test_a_replayed_jti_is_refused_also_after_a_restart(
    ehr: Issuer, jwks: JwksServer, tmp_path: Path
) -> None:
    token = ehr_jwt(ehr, AUD)
    _verifier(jwks, tmp_path).verify(token, AUD)
    assert _reason(_verifier(jwks, tmp_path), token) == "replay"  # a new store on the same file
    # The same jti from another issuer is another token.
    assert (tmp_path / "data" / "cds-jti.sqlite").stat().st_mode & 0o077 == 0


def test_unreachable_keys(ehr: Issuer, tmp_path: Path) -> None:
    allowed = CdsIssuer(EHR_ISSUER, "http://127.0.0.1:1/jwks")
    verifier = EhrJwtVerifier({EHR_ISSUER: allowed}, 300, SqliteReplayGuard(tmp_path))
    with pytest.raises(KeysUnavailable):
        verifier.verify(ehr_jwt(ehr, AUD), AUD)


def test_racing_threads_accept_one_jti_once(tmp_path: Path) -> None:
    guard = SqliteReplayGuard(tmp_path)
    results: list[bool] = []
    barrier = threading.Barrier(16)

    def use() -> None:
        barrier.wait()
        results.append(guard.first_use(EHR_ISSUER, "same", time.time() + 60))

    threads = [threading.Thread(target=use) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 15 + [True]


def test_an_expired_row_does_not_block_and_is_purged(tmp_path: Path) -> None:
    now = [1000.0]
    guard = SqliteReplayGuard(tmp_path, clock=lambda: now[0])
    assert guard.first_use("i", "a", 1010.0)
    assert not guard.first_use("i", "a", 1010.0)
    now[0] = 2000.0
    assert guard.first_use("i", "a", 2010.0)


def test_the_data_dir_must_be_private(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)
    with pytest.raises(DataDirError, match="writable by group or others"):
        SqliteReplayGuard(shared)
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(DataDirError, match="symlink"):
        SqliteReplayGuard(link)

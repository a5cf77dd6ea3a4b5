"""Access tokens against a real JWKS endpoint on loopback: every way a token fails."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from service.auth import Grant, InvalidToken, JwksKeys, KeysUnavailable, TokenVerifier
from tests.builders.tokens import AUDIENCE, ISSUER, Issuer, JwksServer, jwks_server, public_jwk


@pytest.fixture
def issuer() -> Issuer:
    return Issuer.with_keys(**{"rsa-1": "RS256", "ec-1": "ES256"})


@pytest.fixture
def server(issuer: Issuer) -> Iterator[JwksServer]:
    with jwks_server(issuer) as running:
        yield running


@pytest.fixture
def verifier(server: JwksServer) -> TokenVerifier:
    return TokenVerifier(ISSUER, AUDIENCE, JwksKeys(server.url, timeout=2))


def _b64(data: dict[str, object] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _reason(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as raised:
        verifier.verify(token)
    # The reason is a fixed word: never the token or a claim.
    assert not token or token not in str(raised.value)
    return raised.value.reason


@pytest.mark.parametrize(("kid", "alg"), [("rsa-1", "RS256"), ("ec-1", "ES256")])
def test_a_valid_token_gives_its_grant(
    issuer: Issuer, verifier: TokenVerifier, kid: str, alg: str
) -> None:
    assert issuer.keys[kid][0] == alg
    grant = verifier.verify(issuer.token("system/Observation.rs", kid=kid))
    assert grant == Grant(system=frozenset("rs"), subject="client-1")


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_the_384_algorithms_are_accepted(issuer: Issuer, verifier: TokenVerifier, alg: str) -> None:
    issuer.add_key("k384", alg)
    assert verifier.verify(issuer.token(kid="k384")).system == frozenset("rs")


@pytest.mark.parametrize(
    "token", ["", "abc", "a.b.c", "not a jwt at all", _b64({"alg": "RS256"}) + ".e30"]
)
def test_malformed_tokens(verifier: TokenVerifier, token: str) -> None:
    assert _reason(verifier, token) in ("malformed", "invalid", "unknown-key")


def test_a_bad_signature(issuer: Issuer, verifier: TokenVerifier) -> None:
    header, _payload, signature = issuer.token().split(".")
    forged = issuer.claims("system/*.cruds")
    assert _reason(verifier, f"{header}.{_b64(forged)}.{signature}") == "signature"


def test_a_key_not_in_the_jwks(verifier: TokenVerifier) -> None:
    stranger = Issuer()
    stranger.add_key("rsa-1", "RS256")  # same kid, another key: signature fails
    assert _reason(verifier, stranger.token()) == "signature"
    stranger.add_key("elsewhere", "RS256")
    assert _reason(verifier, stranger.token(kid="elsewhere")) == "unknown-key"


def test_alg_none_is_refused(issuer: Issuer, verifier: TokenVerifier) -> None:
    header = _b64({"alg": "none", "typ": "JWT", "kid": "rsa-1"})
    assert _reason(verifier, f"{header}.{_b64(issuer.claims())}.") == "algorithm"


def test_hmac_signed_with_the_public_key_is_refused(
    issuer: Issuer, verifier: TokenVerifier
) -> None:
    public = (
        issuer.keys["rsa-1"][1]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"})
    body = _b64(issuer.claims())
    mac = hmac.new(public, f"{header}.{body}".encode(), hashlib.sha256).digest()
    assert _reason(verifier, f"{header}.{body}.{_b64(mac)}") == "algorithm"


def test_an_algorithm_the_key_does_not_match_is_refused(
    issuer: Issuer, verifier: TokenVerifier
) -> None:
    # Signed by the RSA key with RS384, but the published key is bound to RS256.
    _, key = issuer.keys["rsa-1"]
    token = jwt.encode(issuer.claims(), key, algorithm="RS384", headers={"kid": "rsa-1"})
    assert _reason(verifier, token) == "algorithm"
    # An ES256 header naming the RSA key.
    _, ec_key = issuer.keys["ec-1"]
    token = jwt.encode(issuer.claims(), ec_key, algorithm="ES256", headers={"kid": "rsa-1"})
    assert _reason(verifier, token) == "algorithm"


def test_times(issuer: Issuer, verifier: TokenVerifier) -> None:
    now = int(time.time())
    assert _reason(verifier, issuer.token(exp=now - 120)) == "expired"
    assert _reason(verifier, issuer.token(nbf=now + 120)) == "not-yet-valid"
    assert _reason(verifier, issuer.token(iat=now + 120)) == "not-yet-valid"
    assert _reason(verifier, issuer.token(exp=None)) == "missing-claim"
    # Within the 30 s leeway: accepted.
    verifier.verify(issuer.token(exp=now - 10, nbf=now + 10, iat=now + 10))


def test_wrong_issuer_and_audience(issuer: Issuer, verifier: TokenVerifier) -> None:
    assert _reason(verifier, issuer.token(iss="https://evil.test")) == "issuer"
    assert _reason(verifier, issuer.token(aud="another-service")) == "audience"
    assert _reason(verifier, issuer.token(aud=None)) == "missing-claim"


def test_the_jwks_is_cached_and_an_unknown_kid_refreshes_at_most_once_a_minute(
    issuer: Issuer, server: JwksServer, verifier: TokenVerifier
) -> None:
    for _ in range(3):
        verifier.verify(issuer.token())
    assert server.fetches == 1
    stranger = Issuer()
    stranger.add_key("made-up", "RS256")
    for _ in range(5):
        assert _reason(verifier, stranger.token()) == "unknown-key"
    # The first fetch started the cooldown: made-up kids cause no fetches.
    assert server.fetches == 1


def test_key_rotation_new_kid_accepted_after_refresh(issuer: Issuer, server: JwksServer) -> None:
    verifier = TokenVerifier(ISSUER, AUDIENCE, JwksKeys(server.url, timeout=2, cooldown=0.2))
    verifier.verify(issuer.token(kid="rsa-1"))
    # The issuer rotates: the old keys go, a new one comes.
    issuer.keys.clear()
    issuer.add_key("rsa-2", "RS256")
    time.sleep(0.3)
    assert verifier.verify(issuer.token(kid="rsa-2")).system == frozenset("rs")
    assert server.fetches == 2


def test_an_unreachable_jwks_is_keys_unavailable(issuer: Issuer) -> None:
    with jwks_server(issuer) as server:
        url = server.url
    verifier = TokenVerifier(ISSUER, AUDIENCE, JwksKeys(url, timeout=1))
    with pytest.raises(KeysUnavailable):
        verifier.verify(issuer.token())


class _CountingKeys:
    """A key source that counts how often a key is looked up."""

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer
        self.lookups = 0

    def key(self, kid: str) -> jwt.PyJWK | None:
        self.lookups += 1
        alg, private = self.issuer.keys[kid]
        return jwt.PyJWK.from_dict(public_jwk(private, kid, alg))


def test_a_token_that_passed_is_remembered_until_it_expires(issuer: Issuer) -> None:
    keys = _CountingKeys(issuer)
    now = [time.time()]
    verifier = TokenVerifier(ISSUER, AUDIENCE, keys, clock=lambda: now[0])
    token = issuer.token(exp=int(now[0]) + 120)
    first, second = verifier.verify(token), verifier.verify(token)
    assert first == second
    assert keys.lookups == 1  # the signature was checked once
    now[0] += 121  # past its exp by the service's clock: the signature is checked again
    verifier.verify(token)  # (still valid by PyJWT's own clock, so it passes again)
    assert keys.lookups == 2


def test_a_refused_token_is_never_remembered(issuer: Issuer) -> None:
    keys = _CountingKeys(issuer)
    verifier = TokenVerifier(ISSUER, AUDIENCE, keys)
    token = issuer.token(iss="https://evil.test")
    for _ in range(2):
        with pytest.raises(InvalidToken):
            verifier.verify(token)
    assert keys.lookups == 2

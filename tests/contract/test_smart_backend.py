"""Outbound SMART Backend Services against a real loopback token endpoint and FHIR server.

The token endpoint verifies every client assertion with the registered public
key (signature, ``iss`` = ``sub``, ``aud``, ``exp`` ≤ 5 min, unique ``jti``), so a
token issued at all proves the assertion was right.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from service.clients.errors import (
    FhirAuthInvalidAnswer,
    FhirAuthRefused,
    FhirAuthUnavailable,
    FhirForeignLink,
    FhirTokenRejected,
)
from service.clients.fhir import FhirClient
from service.clients.keys import SigningKey, load_signing_key
from service.clients.smart import SmartBackendTokens
from service.settings import DEFAULT_SMART_SCOPES
from tests.builders.ports import free_port
from tests.builders.smart import CLIENT_ID, KEY_ID, FhirStandIn, TokenServer, ehr, recorder
from tests.builders.tokens import PrivateKey, new_key


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def rsa_key() -> PrivateKey:
    return new_key("RS384")


def signing_key(key: PrivateKey, tmp_path: Path) -> SigningKey:
    """The key as the service loads it: from a PEM file."""
    path = tmp_path / "key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return load_signing_key(path, KEY_ID)


def client(
    fhir: FhirStandIn, key: SigningKey, token_url: str | None = None, clock: Clock | None = None
) -> tuple[FhirClient, SmartBackendTokens]:
    tokens = SmartBackendTokens(
        fhir.url,
        CLIENT_ID,
        key,
        DEFAULT_SMART_SCOPES,
        token_url,
        connect_timeout=0.5,
        read_timeout=5,
        clock=clock or Clock(),
    )
    return FhirClient(fhir.url, tokens=tokens, retries=0, connect_timeout=0.5), tokens


@pytest.fixture
def running(rsa_key: PrivateKey) -> Iterator[tuple[TokenServer, FhirStandIn]]:
    with ehr(rsa_key, "RS384") as servers:
        yield servers


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_discovery_and_a_verified_assertion(alg: str, tmp_path: Path) -> None:
    key = new_key(alg)
    with ehr(key, alg) as (tokens, fhir):
        fhir_client, _ = client(fhir, signing_key(key, tmp_path))
        assert fhir_client.capabilities()["resourceType"] == "CapabilityStatement"
    assert tokens.rejected == []
    (claims,) = tokens.claims
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == tokens.url
    assert 0 < claims["exp"] - claims["iat"] <= 300
    assert fhir.server.seen[0].path == "/fhir/.well-known/smart-configuration"
    (request,) = tokens.server.seen
    form = request.body.decode()
    assert "grant_type=client_credentials" in form
    assert "system%2FObservation.rs" in form
    assert "system%2FDevice.cu" in form
    # The token went to the FHIR server and nowhere else; discovery carried none.
    assert fhir.server.seen[0].authorization is None
    assert fhir.server.seen[1].authorization == f"Bearer {tokens.current}"


def test_a_configured_token_url_skips_discovery(
    running: tuple[TokenServer, FhirStandIn], rsa_key: PrivateKey, tmp_path: Path
) -> None:
    tokens, fhir = running
    fhir.advertise = False
    fhir_client, _ = client(fhir, signing_key(rsa_key, tmp_path), token_url=tokens.url)
    fhir_client.capabilities()
    assert all("/.well-known/" not in s.path for s in fhir.server.seen)


def test_no_smart_configuration_is_an_invalid_answer(
    running: tuple[TokenServer, FhirStandIn], rsa_key: PrivateKey, tmp_path: Path
) -> None:
    _, fhir = running
    fhir.advertise = False
    with pytest.raises(FhirAuthInvalidAnswer):
        client(fhir, signing_key(rsa_key, tmp_path))[0].capabilities()
    assert fhir.fhir_requests() == []


def test_one_token_for_many_calls_and_threads(
    running: tuple[TokenServer, FhirStandIn], rsa_key: PrivateKey, tmp_path: Path
) -> None:
    tokens, fhir = running
    fhir_client, _ = client(fhir, signing_key(rsa_key, tmp_path))
    threads = [threading.Thread(target=fhir_client.capabilities) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for _ in range(5):
        list(fhir_client.search("Observation", {"subject": "Patient/p"}))
    assert len(tokens.issued) == 1
    assert len(fhir.fhir_requests()) == 13
    assert len([s for s in fhir.server.seen if "/.well-known/" in s.path]) == 1


def test_the_token_is_renewed_shortly_before_it_expires(
    rsa_key: PrivateKey, tmp_path: Path
) -> None:
    clock = Clock()
    with ehr(rsa_key, "RS384", expires_in=60) as (tokens, fhir):
        fhir_client, _ = client(fhir, signing_key(rsa_key, tmp_path), clock=clock)
        fhir_client.capabilities()
        clock.now += 53  # margin: min(30 s, 10 % of 60 s) = 6 s
        fhir_client.capabilities()
        assert len(tokens.issued) == 1
        clock.now += 2
        fhir_client.capabilities()
        assert len(tokens.issued) == 2
    assert len(tokens.jtis) == 2  # a fresh jti per assertion (a replay would be refused)
    assert tokens.rejected == []


def test_a_401_fetches_one_new_token_and_repeats_the_request_once(
    running: tuple[TokenServer, FhirStandIn], rsa_key: PrivateKey, tmp_path: Path
) -> None:
    tokens, fhir = running
    fhir_client, _ = client(fhir, signing_key(rsa_key, tmp_path))
    fhir_client.capabilities()
    fhir.unauthorized = 1  # e.g. revoked early
    assert fhir_client.transaction({"resourceType": "Bundle", "type": "transaction"})
    assert len(tokens.issued) == 2
    posts = [s for s in fhir.fhir_requests() if s.method == "POST"]
    assert [p.authorization for p in posts] == [f"Bearer {t}" for t in tokens.issued]


def test_a_second_401_fails_naming_the_token(
    running: tuple[TokenServer, FhirStandIn], rsa_key: PrivateKey, tmp_path: Path
) -> None:
    tokens, fhir = running
    fhir.unauthorized = 5
    with pytest.raises(FhirTokenRejected) as caught:
        client(fhir, signing_key(rsa_key, tmp_path))[0].capabilities()
    assert len(tokens.issued) == 2
    assert len(fhir.fhir_requests()) == 2
    assert caught.value.upstream_issues == []  # the server's 401 text is not passed on


def test_a_refusing_token_endpoint(
    running: tuple[TokenServer, FhirStandIn], rsa_key: PrivateKey, tmp_path: Path
) -> None:
    tokens, fhir = running
    tokens.mode = "refuse"
    with pytest.raises(FhirAuthRefused) as caught:
        client(fhir, signing_key(rsa_key, tmp_path))[0].capabilities()
    assert [i.diagnostics for i in caught.value.upstream_issues] == [
        "authorization server: invalid_client"
    ]
    assert fhir.fhir_requests() == []


def test_a_failing_token_endpoint_is_unavailable_with_its_delay(
    running: tuple[TokenServer, FhirStandIn], rsa_key: PrivateKey, tmp_path: Path
) -> None:
    tokens, fhir = running
    tokens.mode = "fail"
    with pytest.raises(FhirAuthUnavailable) as caught:
        client(fhir, signing_key(rsa_key, tmp_path))[0].capabilities()
    assert caught.value.retry_after == "7"
    assert len(tokens.server.seen) == 1  # the POST was not retried


def test_an_unreachable_token_endpoint_is_unavailable(
    running: tuple[TokenServer, FhirStandIn], rsa_key: PrivateKey, tmp_path: Path
) -> None:
    _, fhir = running
    closed = f"http://127.0.0.1:{free_port()}/token"
    with pytest.raises(FhirAuthUnavailable):
        client(fhir, signing_key(rsa_key, tmp_path), token_url=closed)[0].capabilities()


def test_the_token_never_goes_to_another_origin(
    running: tuple[TokenServer, FhirStandIn], rsa_key: PrivateKey, tmp_path: Path
) -> None:
    tokens, fhir = running
    foreign = recorder()
    fhir.next_url = f"{foreign.url}/fhir/Observation?page=2"
    fhir_client, _ = client(fhir, signing_key(rsa_key, tmp_path))
    with foreign.running():
        with pytest.raises(FhirForeignLink):
            list(fhir_client.search("Observation", {"subject": "Patient/p"}))
        # Even a request sent on the session itself carries no token elsewhere.
        fhir_client.session.get(foreign.url + "/anything", timeout=2)
    assert [s.authorization for s in foreign.seen] == [None]
    assert len(tokens.issued) == 1


def test_the_signing_key_does_not_show_in_repr(rsa_key: PrivateKey, tmp_path: Path) -> None:
    key = signing_key(rsa_key, tmp_path)
    tokens = SmartBackendTokens("https://fhir.test", CLIENT_ID, key, DEFAULT_SMART_SCOPES)
    assert "PRIVATE" not in repr(tokens)
    assert repr(key) == "SigningKey(alg='RS384', kid='her2-key-1')"
    jwks = key.public_jwks()
    assert [set(k) & {"d", "p", "q"} for k in jwks["keys"]] == [set()]
    assert json.dumps(jwks)

"""A real Keycloak (26.7.3, dev mode) on loopback: the authorization server of the tests.

The realm is ``tests/keycloak/her2-realm.json``: SMART Backend Services clients that
authenticate with signed JWTs (``private_key_jwt``, ES384) and get ES384 access tokens
holding only SMART scopes, for two audiences: the FHIR server (``FHIR_AUDIENCE``, checked
by the HAPI test server's interceptor) and the service (``SERVICE_AUDIENCE``).

The clients' key pairs are not in the repository: they are made here (EC P-384) the
first time a realm file is imported, their public JWKs are put into the realm (each
client's ``jwks.string``) before the import, and the private keys are kept next to the
imported database.  So nothing secret is committed, and the keys live exactly as long as
the database that trusts them.

Caching (outside the clone, so that a CI job on a fresh clone is fast too):

- ``~/.cache/her2-status/keycloak-26.7.3``: the unpacked server, downloaded once with
  Maven (``org.keycloak:keycloak-quarkus-dist:26.7.3:tar.gz``, ~176 MB);
- ``~/.cache/her2-status/keycloak-realm-<hash>``: the H2 database of a completed import
  and the clients' private keys, keyed by a hash of the realm file and the server
  version.  A first start imports the realm (~70 s); later starts copy that database
  and start in ~9 s.

Every start runs on a copy of the cached database (a test may rotate keys), on two free
loopback ports (HTTP and management), and is stopped after.  ``XDG_CACHE_HOME`` moves
the cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from service.clients.keys import SigningKey, load_signing_key
from service.clients.smart import SmartBackendTokens
from service.settings import AuthSettings, SmartBackendSettings
from tests.builders.ports import free_port
from tests.integration.hapi import HapiAuth, fhir_server

VERSION = "26.7.3"
ARTIFACT = f"org.keycloak:keycloak-quarkus-dist:{VERSION}:tar.gz"
REALM_FILE = Path(__file__).resolve().parents[1] / "keycloak" / "her2-realm.json"
REALM = "her2"
# The audiences the realm's mappers put into access tokens (see the realm file).
FHIR_AUDIENCE = "https://fhir.her2-status.test/fhir"
SERVICE_AUDIENCE = "https://her2-status.test/fhir"
# The tests' own client for seeding and checking the FHIR server: every type, every action.
SERVICE_CLIENT = "her2-status-service"
# Optional scopes of the service client beyond the default HER2_FHIR_SCOPES: what
# HER2_AUDIT=fhir adds (its AuditEvents) and what subscribing needs (its Subscription:
# SMART v2 ``d`` too, as ``her2-status subscribe --remove`` deletes it).
AUDIT_SCOPE = "system/AuditEvent.c"
SUBSCRIPTION_SCOPES = "system/Subscription.rs system/Subscription.cud"
SEEDER_CLIENT = "her2-test-seeder"
SEEDER_SCOPES = "system/*.cruds"
# Callers of the service (see the realm file for their scopes).
ENGINE = ("integration-engine", "system/Observation.rs system/Observation.cu")
READ_ONLY_ENGINE = ("read-only-engine", "system/Observation.rs")
PATIENT_APP = ("patient-app", "patient/Observation.rs")
PATIENT_APP_PATIENT = "h2-kc-patient"  # the realm's fixed patient claim of patient-app
START_TIMEOUT = 300.0
# Bump when the way keys are made or put into the realm changes (part of the cache key).
KEY_SCHEME = "es384-p384-v1"


class KeycloakUnavailable(RuntimeError):
    """Keycloak could not be downloaded or started (the tests fail, never skip)."""


def cache_root() -> Path:
    """Where the server and the imported realms are kept between runs."""
    base = os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "her2-status"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock between test runs of this host (e.g. two worktrees)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def distribution() -> Path:
    """The unpacked Keycloak server, downloaded with Maven on first use (call under the lock)."""
    home = cache_root() / f"keycloak-{VERSION}"
    if (home / "bin" / "kc.sh").is_file():
        return home
    mvn = shutil.which("mvn")
    if mvn is None or shutil.which("java") is None:
        raise KeycloakUnavailable("Java and Maven are needed to download Keycloak")
    home.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=home.parent) as tmp:
        done = subprocess.run(
            [
                mvn,
                "-B",
                "-q",
                "dependency:copy",
                f"-Dartifact={ARTIFACT}",
                f"-DoutputDirectory={tmp}",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        if done.returncode != 0:
            raise KeycloakUnavailable("downloading Keycloak failed:\n" + done.stdout[-4000:])
        with tarfile.open(Path(tmp) / f"keycloak-quarkus-dist-{VERSION}.tar.gz") as archive:
            archive.extractall(tmp, filter="data")
        (Path(tmp) / f"keycloak-{VERSION}").rename(home)
    return home


def realm_hash() -> str:
    """The cache key of an imported realm: realm file, server version, key scheme."""
    digest = hashlib.sha256(REALM_FILE.read_bytes())
    digest.update(f"{VERSION}/{KEY_SCHEME}".encode())
    return digest.hexdigest()[:16]


def _client_keys(realm: dict[str, Any], keys_dir: Path) -> None:
    """Make a P-384 key per signed-JWT client and put its public JWK into the realm."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    for client in realm["clients"]:
        if client.get("clientAuthenticatorType") != "client-jwt":
            continue
        name = client["clientId"]
        pem = ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path = keys_dir / f"{name}.pem"
        path.write_bytes(pem)
        path.chmod(0o600)
        jwks = load_signing_key(path, f"{name}-1").public_jwks()
        client["attributes"] |= {"use.jwks.string": "true", "jwks.string": json.dumps(jwks)}


@dataclass(frozen=True)
class Client:
    """A realm client's credentials: its id and its private key (``load_signing_key``)."""

    client_id: str
    key_path: Path
    key_id: str

    def signing_key(self) -> SigningKey:
        """The client's signing key."""
        return load_signing_key(self.key_path, self.key_id)


class Keycloak:
    """One running Keycloak with the her2 realm."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.port = free_port()
        self.management_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.issuer = f"{self.base_url}/realms/{REALM}"
        self.token_url = f"{self.issuer}/protocol/openid-connect/token"
        self.jwks_url = f"{self.issuer}/protocol/openid-connect/certs"
        self.seed = cache_root() / f"keycloak-realm-{realm_hash()}"
        self.process: subprocess.Popen[bytes] | None = None
        self.start_seconds = 0.0
        self.cold = False

    # -- clients and tokens --

    def client(self, client_id: str) -> Client:
        """The credentials of a client of the realm."""
        return Client(client_id, self.seed / "keys" / f"{client_id}.pem", f"{client_id}-1")

    def tokens(self, client_id: str, scopes: str) -> SmartBackendTokens:
        """A cached token source for a client (the service's own SMART client code)."""
        client = self.client(client_id)
        return SmartBackendTokens(
            self.issuer, client_id, client.signing_key(), scopes, token_url=self.token_url
        )

    def token(self, client_id: str, scopes: str) -> str:
        """A fresh access token for a client."""
        return self.tokens(client_id, scopes).token()

    def hapi_auth(self) -> HapiAuth:
        """What the HAPI test server is told to require: this issuer's tokens for it."""
        return HapiAuth(self.issuer, self.jwks_url, FHIR_AUDIENCE, self.token_url)

    def service_smart(self, discover: bool = False, **overrides: Any) -> SmartBackendSettings:
        """The service's outbound SMART Backend Services settings (HER2_FHIR_*).

        Args:
            discover: leave the token endpoint to discovery at the FHIR server.
            overrides: other fields (e.g. ``scopes``).
        """
        client = self.client(SERVICE_CLIENT)
        return SmartBackendSettings(
            client_id=client.client_id,
            private_key=client.key_path,
            key_id=client.key_id,
            token_url=None if discover else self.token_url,
            **overrides,
        )

    def service_auth(self) -> AuthSettings:
        """The service's inbound settings (HER2_AUTH_*): this issuer, the service's audience."""
        return AuthSettings(
            issuer=self.issuer,
            jwks_url=self.jwks_url,
            audience=SERVICE_AUDIENCE,
            token_url=self.token_url,
        )

    def service_fhir_env(self, scopes: str) -> dict[str, str]:
        """``service_smart`` as the service's ``HER2_FHIR_*`` variables (``smart-backend``)."""
        smart = self.service_smart(scopes=scopes)
        return {
            "HER2_FHIR_AUTH": "smart-backend",
            "HER2_FHIR_CLIENT_ID": smart.client_id,
            "HER2_FHIR_PRIVATE_KEY": str(smart.private_key),
            "HER2_FHIR_KEY_ID": smart.key_id,
            "HER2_FHIR_SCOPES": smart.scopes,
            "HER2_FHIR_TOKEN_URL": self.token_url,
        }

    def service_auth_env(self) -> dict[str, str]:
        """``service_auth`` as the service's ``HER2_AUTH_*`` variables."""
        return {
            "HER2_AUTH_ISSUER": self.issuer,
            "HER2_AUTH_JWKS_URL": self.jwks_url,
            "HER2_AUTH_AUDIENCE": SERVICE_AUDIENCE,
        }

    # -- the server --

    def start(self) -> Keycloak:
        """Start on a copy of the cached realm database (importing it first if needed)."""
        started = time.monotonic()
        with _locked(cache_root() / "keycloak.lock"):
            home = distribution()
            if not (self.seed / "imported").is_file():
                self.cold = True
                self._import(home)
            shutil.copytree(self.seed / "data", self.work_dir / "data")
            self._run(home, self.work_dir, import_realm=False)
        self.start_seconds = time.monotonic() - started
        return self

    def _import(self, home: Path) -> None:
        """First start of this realm file: make keys, import, stop; keep the database."""
        shutil.rmtree(self.seed, ignore_errors=True)
        realm = json.loads(REALM_FILE.read_text())
        _client_keys(realm, self.seed / "keys")
        # Keycloak imports from its own data/import (only while the lock is held).
        imports = home / "data" / "import"
        imports.mkdir(parents=True, exist_ok=True)
        realm_path = imports / "her2-realm.json"
        realm_path.write_text(json.dumps(realm))
        try:
            self._run(home, self.seed, import_realm=True)
            self.stop()
        finally:
            realm_path.unlink()
        (self.seed / "imported").touch()

    def _run(self, home: Path, db_root: Path, import_realm: bool) -> None:
        env = {
            **os.environ,
            "KC_BOOTSTRAP_ADMIN_USERNAME": "admin",
            "KC_BOOTSTRAP_ADMIN_PASSWORD": "admin",
            # The H2 database under db_root/data/h2 instead of the server's own data dir.
            "JAVA_OPTS_APPEND": f"-Dkc.db-url-path={db_root}",
        }
        args = [
            str(home / "bin" / "kc.sh"),
            "start-dev",
            "--http-host=127.0.0.1",
            f"--http-port={self.port}",
            f"--http-management-port={self.management_port}",
        ]
        if import_realm:
            args.append("--import-realm")
        log_path = self.work_dir / "keycloak.log"
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        ready = f"{self.issuer}/.well-known/openid-configuration"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise KeycloakUnavailable("Keycloak exited while starting:\n" + _tail(log_path))
            try:
                if requests.get(ready, timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise KeycloakUnavailable("Keycloak did not become ready in time:\n" + _tail(log_path))

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    # -- the admin REST API (key rotation) --

    def admin_session(self) -> requests.Session:
        """A session with an admin token of the master realm."""
        answer = requests.post(
            f"{self.base_url}/realms/master/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": "admin",
                "password": "admin",
            },
            timeout=30,
        )
        answer.raise_for_status()
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        return session

    def rotate_signing_key(self) -> str:
        """A new ES384 (P-384) key with a higher priority; the old ES384 keys disabled.

        Disabled keys leave the realm's JWKS, so tokens they signed stop verifying
        anywhere that refreshes its key set.  Returns the new key's ``kid``.
        """
        admin = self.admin_session()
        base = f"{self.base_url}/admin/realms/{REALM}"
        realm_id = admin.get(base, timeout=30).json()["id"]
        providers = admin.get(
            f"{base}/components", params={"type": "org.keycloak.keys.KeyProvider"}, timeout=30
        ).json()
        old = [p for p in providers if p["providerId"] == "ecdsa-generated"]
        top = max(int(p["config"]["priority"][0]) for p in old)
        name = f"es384-rotated-{len(old)}"
        created = admin.post(
            f"{base}/components",
            json={
                "name": name,
                "providerId": "ecdsa-generated",
                "providerType": "org.keycloak.keys.KeyProvider",
                "parentId": realm_id,
                "config": {
                    "priority": [str(top + 10)],
                    "ecdsaEllipticCurveKey": ["P-384"],
                    "active": ["true"],
                    "enabled": ["true"],
                },
            },
            timeout=30,
        )
        created.raise_for_status()
        for provider in old:
            provider["config"]["enabled"] = ["false"]
            admin.put(
                f"{base}/components/{provider['id']}", json=provider, timeout=30
            ).raise_for_status()
        provider_id = created.headers["Location"].rsplit("/", 1)[-1]
        keys = admin.get(f"{base}/keys", timeout=30).json()["keys"]
        kid: str = next(k["kid"] for k in keys if k.get("providerId") == provider_id)
        return kid


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-4000:] if path.exists() else ""


@contextlib.contextmanager
def keycloak(work_dir: Path) -> Iterator[Keycloak]:
    """A running Keycloak with the her2 realm, stopped after."""
    server = Keycloak(work_dir)
    try:
        yield server.start()
    finally:
        server.stop()


@contextlib.contextmanager
def keycloak_and_fhir_server(work_dir: Path) -> Iterator[tuple[Keycloak, str]]:
    """Keycloak and a HAPI server requiring its tokens, started side by side.

    HAPI needs only Keycloak's URLs (its ports are chosen before the start) and fetches
    the keys on the first token, so the two JVMs start at the same time.
    """
    server = Keycloak(work_dir / "keycloak")
    (work_dir / "hapi").mkdir(parents=True, exist_ok=True)
    pool = ThreadPoolExecutor(1)
    starting = pool.submit(server.start)
    try:
        with fhir_server(work_dir / "hapi", server.hapi_auth()) as base_url:
            starting.result()
            yield server, base_url
    finally:
        with contextlib.suppress(Exception):
            starting.result()
        pool.shutdown()
        server.stop()


if __name__ == "__main__":
    with keycloak(Path(tempfile.mkdtemp(prefix="her2-keycloak-"))) as kc:
        print(
            kc.issuer, f"ready in {kc.start_seconds:.1f} s", "(cold)" if kc.cold else "", flush=True
        )
        signal.signal(signal.SIGTERM, lambda *_: None)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()

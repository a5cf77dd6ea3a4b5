"""The official HL7 FHIR validator engine, offline: build it, fill its package cache, run it.

The validator CLI is not on Maven Central, its engine is: ``tests/hl7_validator`` (a pom and
one Java class) drives ``org.hl7.fhir.validation`` with no terminology or package server.
``hl7.fhir.r4.core#4.0.1`` is not on npm either, so the driver builds it from the R4
definitions HAPI publishes; ``hl7.terminology.r4`` and ``hl7.fhir.xver-extensions`` come
from npm (``npm pack``).  Everything is cached under ``~/.cache/her2-status/hl7-validator``
(or ``HER2_VALIDATOR_CACHE``; the package cache lives there through ``-Duser.home``, so
``~/.fhir`` is untouched)
and the compiled driver in ``tests/hl7_validator/target``, both keyed by a hash of the
driver's sources.  Used by ``scripts/build-profiles --snapshots`` and the integration tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from scripts.maven import java_classpath

ROOT: Final = Path(__file__).resolve().parents[2]
DRIVER: Final = ROOT / "tests" / "hl7_validator"
# Outside the checkout by default, so that every fresh clone (CI clones afresh) reuses the
# package cache built once on this machine; entries are keyed by the driver's hash.
CACHE: Final = Path(
    os.environ.get("HER2_VALIDATOR_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "her2-status"
    / "hl7-validator"
)
HOME: Final = CACHE / "home"
NPM_CACHE: Final = CACHE / "npm"
# npm packages the engine needs beside the core; hl7.fhir.xver-extensions is a dependency
# the engine resolves while loading hl7.terminology.r4.
NPM_PACKAGES: Final = {"hl7.terminology.r4": "7.0.1", "hl7.fhir.xver-extensions": "0.1.0"}
MAIN: Final = "org.her2status.hl7.Hl7Validator"


class ValidatorUnavailable(RuntimeError):
    """The validator could not be built, installed or run (the tests fail, never skip)."""


@dataclass(frozen=True)
class Target:
    """One file to validate.

    Attributes:
        path: The JSON resource.
        profile: A profile URL to validate against beside ``meta.profile``, if any.
        server: JSON files (resources or Bundles) whose resources ``Type/id`` references
            resolve to, as on the FHIR server the file was written to.
    """

    path: Path
    profile: str | None = None
    server: tuple[Path, ...] = ()

    def arg(self) -> str:
        """The driver's argument: ``FILE|PROFILE|SERVER,...``."""
        return "|".join([str(self.path), self.profile or "", ",".join(map(str, self.server))])


def _sources_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted([DRIVER / "pom.xml", *DRIVER.rglob("*.java")]):
        digest.update(path.read_bytes())
    digest.update(json.dumps(NPM_PACKAGES, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def _java(classpath: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "java",
            "-Xmx2g",
            "-XX:+UseSerialGC",
            f"-Duser.home={HOME}",
            "-cp",
            classpath,
            MAIN,
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def build() -> str:
    """Compile the driver, fill the package cache, and return the Java classpath (cached)."""
    classpath = java_classpath(DRIVER, ValidatorUnavailable, "the HL7 validator")
    installed = HOME / f"installed-{_sources_hash()}"
    if not installed.is_file():
        tgzs = [str(_npm_pack(name, version)) for name, version in NPM_PACKAGES.items()]
        done = _java(classpath, "install", *tgzs, timeout=900)
        if done.returncode != 0:
            raise ValidatorUnavailable("installing FHIR packages failed:\n" + done.stderr[-4000:])
        installed.touch()
    return classpath


def _npm_pack(name: str, version: str) -> Path:
    tgz = NPM_CACHE / f"{name}-{version}.tgz"
    if not tgz.is_file():
        NPM_CACHE.mkdir(parents=True, exist_ok=True)
        _npm(["pack", f"{name}@{version}", "--pack-destination", str(NPM_CACHE)], ROOT)
    return tgz


def _npm(args: list[str], cwd: Path) -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise ValidatorUnavailable("npm is needed to fetch and pack FHIR packages")
    done = subprocess.run(
        [npm, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=300
    )
    if done.returncode != 0:
        raise ValidatorUnavailable(f"npm {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return done.stdout


def pack(folder: Path, destination: Path) -> Path:
    """``npm pack`` a FHIR package folder (offline: a local folder needs no registry)."""
    destination.mkdir(parents=True, exist_ok=True)
    out = _npm(["pack", str(folder), "--pack-destination", str(destination)], destination)
    return destination / out.strip().splitlines()[-1]


@dataclass(frozen=True)
class Result:
    """What one run found.

    Attributes:
        issues: Per validated file, its messages (``severity``, ``messageId``,
            ``location``, ``line``, ``message``).
        snapshots: Per StructureDefinition file name, the StructureDefinition with the
            snapshot the engine generated from its differential.
    """

    issues: dict[str, list[dict[str, Any]]]
    snapshots: dict[str, dict[str, Any]]


def run(ig: Path, targets: list[Target]) -> Result:
    """Load the guide ``ig`` (a folder or an npm .tgz), validate every target.

    Args:
        ig: The implementation guide to load beside FHIR R4 and THO.
        targets: The files to validate; each StructureDefinition also gets a snapshot.

    Returns:
        The messages and snapshots.
    """
    classpath = build()
    with tempfile.TemporaryDirectory(prefix="hl7-validator-") as tmp:
        report = Path(tmp) / "report.json"
        snapshots = Path(tmp) / "snapshots"
        done = _java(
            classpath,
            "run",
            str(ig),
            str(report),
            str(snapshots),
            *(t.arg() for t in targets),
            timeout=900,
        )
        if done.returncode != 0 or not report.is_file():
            raise ValidatorUnavailable("the HL7 validator failed:\n" + done.stderr[-4000:])
        issues: dict[str, list[dict[str, Any]]] = json.loads(report.read_text())
        generated = {p.name: json.loads(p.read_text()) for p in snapshots.glob("*.json")}
    return Result(issues, generated)

"""Compile a small Java project with Maven and return its classpath, cached by source hash.

Used for the project's two Java helpers, the HAPI FHIR test server (``tests/hapi_server``)
and the HL7 validator driver (``tests/hl7_validator``).  Maven's downloads stay in
``~/.m2``; the compiled classes and the resolved classpath in the project's ``target``,
marked with a stamp named after a hash of ``pom.xml`` and the Java sources.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path


def sources_hash(project: Path) -> str:
    """A short hash of the project's ``pom.xml`` and Java sources."""
    digest = hashlib.sha256()
    for path in sorted([project / "pom.xml", *project.rglob("*.java")]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def java_classpath(project: Path, unavailable: type[Exception], what: str) -> str:
    """Compile ``project`` when its sources changed; return ``classes:dependencies``.

    Args:
        project: the Maven project directory.
        unavailable: the exception to raise when Java, Maven or the build fails.
        what: what is being built, for the error message.
    """
    target = project / "target"
    stamp = target / f"built-{sources_hash(project)}"
    classpath = target / "classpath.txt"
    if not (stamp.is_file() and classpath.is_file()):
        mvn = shutil.which("mvn")
        if mvn is None or shutil.which("java") is None:
            raise unavailable(f"Java and Maven are needed to build {what}")
        done = subprocess.run(
            [
                mvn,
                "-B",
                "-q",
                "compile",
                "dependency:build-classpath",
                f"-Dmdep.outputFile={classpath}",
            ],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        if done.returncode != 0:
            raise unavailable(f"building {what} failed:\n" + done.stdout[-4000:])
        for old in target.glob("built-*"):
            old.unlink()
        stamp.touch()
    return f"{target / 'classes'}:{classpath.read_text().strip()}"

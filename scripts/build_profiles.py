"""Write (or check) ``fhir_profiles/``: the conformance resources and one example per profile.

Run through ``scripts/build-profiles [--check]``.  The examples are real outputs
of the service on ``tests/fixtures/inputs/breast-ihc2-dual-separate.json`` (for the
inputs, two of its Observations), tagged with their profile.  This tool reads the
test fixtures and runs a derivation, which is why it lives outside ``service/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from scripts.guide import all_resources
from service.app.derivation import derive
from service.fhir import jsonio
from service.fhir.codes import CANONICAL

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ROOT / "fhir_profiles"
EXAMPLE_INPUT = ROOT / "tests" / "fixtures" / "inputs" / "breast-ihc2-dual-separate.json"
EXAMPLE_TIME = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def _tagged(resource: dict[str, Any], profile: str, example_id: str) -> dict[str, Any]:
    tagged = {k: v for k, v in resource.items() if k != "meta"}
    tagged["id"] = example_id
    tagged["meta"] = {"profile": [f"{CANONICAL}/StructureDefinition/{profile}"]}
    return {"resourceType": tagged.pop("resourceType"), **tagged}


def examples() -> dict[str, dict[str, Any]]:
    """One example per profile, from a real run of the service."""
    payload = jsonio.loads(EXAMPLE_INPUT.read_text(encoding="utf-8"))
    entries = [e["resource"] for e in payload["entry"]]
    by_id = {r.get("id"): r for r in entries}
    derivation = derive(payload, EXAMPLE_TIME)
    outputs = {e["resource"]["resourceType"]: e["resource"] for e in derivation.bundle["entry"]}
    chosen = {
        "her2-ihc-input": by_id["ihc-1"],
        "her2-ish-input": by_id["ratio-1"],
        "her2-status": outputs["Observation"],
        "her2-therapy-list": outputs["List"],
    }
    return {
        f"examples/{r['resourceType']}-example-{p}.json": _tagged(r, p, f"example-{p}")
        for p, r in chosen.items()
    }


def _text(resource: dict[str, Any]) -> str:
    # Decimals from the example input are written as exact JSON numbers.
    return jsonio.dumps(resource, indent=2) + "\n"


def expected_files() -> dict[str, str]:
    """File name (relative to fhir_profiles/) → content."""
    files = {name: _text(resource) for name, resource in all_resources().items()}
    files.update({name: _text(resource) for name, resource in examples().items()})
    return files


def main(argv: list[str] | None = None) -> int:
    """Write the files, or with --check report stale ones and exit 1."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for name, content in expected_files().items():
        path = PROFILES / name
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            stale.append(name)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content, encoding="utf-8")
    if args.check and stale:
        print("stale: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

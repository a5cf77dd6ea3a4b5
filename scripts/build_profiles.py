"""Write (or check) ``fhir_profiles/``: the guide as a FHIR package, with examples.

Run through ``scripts/build-profiles [--check | --snapshots]``.  The examples are real
outputs of the service on ``tests/fixtures/inputs/breast-ihc2-dual-separate.json`` (for the
inputs, two of its Observations), tagged with their profile, plus the Device the outputs
cite.  Every resource gets a generated narrative; the StructureDefinitions get the
snapshots the official HL7 validator generated (``--snapshots`` regenerates them, with
Java).  This tool reads the test fixtures and runs a derivation, which is why it lives
outside ``service/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from scripts.guide import all_resources, snapshots, validator
from scripts.guide.narrative import with_narrative
from scripts.guide.package import implementation_guide, package_json
from service.app.derivation import derive
from service.fhir import jsonio
from service.fhir.codes import CANONICAL, DEVICE_ID
from service.fhir.outbound import device as outbound_device
from service.her2 import default_ruleset

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
    """One example per profile, from a real run of the service, and the service's Device."""
    payload = jsonio.loads(EXAMPLE_INPUT.read_text(encoding="utf-8"))
    entries = [e["resource"] for e in payload["entry"]]
    by_id = {r.get("id"): r for r in entries}
    # The stored forms (as write-back writes them), not the Bundle entries.
    output = derive(payload, EXAMPLE_TIME).outputs[0]
    assert output.listing is not None
    chosen = {
        "her2-ihc-input": by_id["ihc-1"],
        "her2-ish-input": by_id["ratio-1"],
        "her2-status": output.observation,
        "her2-therapy-list": output.listing,
    }
    found = {
        f"examples/{r['resourceType']}-example-{p}.json": _tagged(r, p, f"example-{p}")
        for p, r in chosen.items()
    }
    # The service's own Device, as outputs cite it (version = the rule set's version).
    found[f"examples/Device-{DEVICE_ID}.json"] = outbound_device(default_ruleset())
    return {name: with_narrative(r) for name, r in found.items()}


def _text(resource: dict[str, Any]) -> str:
    # Decimals from the example input are written as exact JSON numbers.
    return jsonio.dumps(resource, indent=2) + "\n"


def differentials() -> dict[str, dict[str, Any]]:
    """The conformance resources with narratives, StructureDefinitions without snapshot."""
    return {name: with_narrative(r) for name, r in all_resources().items()}


def expected_files() -> dict[str, str]:
    """File name (relative to fhir_profiles/) → content."""
    resources = {
        name: snapshots.merged(r, _text(r)) if r["resourceType"] == "StructureDefinition" else r
        for name, r in differentials().items()
    }
    found = examples()
    guide = with_narrative(implementation_guide(resources, found))
    files = {name: _text(resource) for name, resource in resources.items()}
    files[f"ImplementationGuide-{guide['id']}.json"] = _text(guide)
    files.update({name: _text(resource) for name, resource in found.items()})
    files["package.json"] = json.dumps(package_json(), indent=2) + "\n"
    return files


def regenerate_snapshots() -> None:
    """Have the official HL7 validator generate every StructureDefinition's snapshot.

    Needs Java, Maven and npm (the rest of this tool does not).
    """
    resources = differentials()
    with tempfile.TemporaryDirectory(prefix="her2-guide-") as tmp:
        folder = Path(tmp)
        for name, resource in resources.items():
            (folder / name).write_text(_text(resource), encoding="utf-8")
        sds = [n for n, r in resources.items() if r["resourceType"] == "StructureDefinition"]
        result = validator.run(folder, [validator.Target(folder / n) for n in sds])
    for name in sds:
        generated = result.snapshots[name]
        snapshots.store(resources[name]["id"], _text(resources[name]), generated["snapshot"])


def main(argv: list[str] | None = None) -> int:
    """Write the files, or with --check report stale ones and exit 1."""
    parser = argparse.ArgumentParser(description=__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="only check, write nothing")
    group.add_argument(
        "--snapshots", action="store_true", help="regenerate snapshots first (Java, Maven, npm)"
    )
    args = parser.parse_args(argv)
    if args.snapshots:
        regenerate_snapshots()
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

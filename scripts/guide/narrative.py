"""Generated narratives: a short XHTML summary in ``text`` of every resource of the guide.

R4 asks every DomainResource for a narrative (dom-6); a reader of the package sees this
summary where a tool cannot render the structured content.  Every value is XML-escaped,
since titles and descriptions are free text.
"""

from __future__ import annotations

from html import escape
from typing import Any

_XHTML = "http://www.w3.org/1999/xhtml"


def with_narrative(resource: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``resource`` with a generated ``text``, placed after ``id`` and ``meta``.

    Args:
        resource: A FHIR R4 resource as JSON.

    Returns:
        The same resource with ``text`` (status ``generated``) replaced or added.
    """
    text = {"status": "generated", "div": _div(_paragraphs(resource))}
    out: dict[str, Any] = {}
    head = [k for k in ("resourceType", "id", "meta") if k in resource]
    for key in head:
        out[key] = resource[key]
    out["text"] = text
    out.update({k: v for k, v in resource.items() if k not in (*head, "text")})
    return out


def _div(paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f'<div xmlns="{_XHTML}">{body}</div>'


def _paragraphs(r: dict[str, Any]) -> list[str]:
    rtype = r["resourceType"]
    if "url" in r and "title" in r:
        first = f"<b>{escape(r['title'])}</b> ({rtype} <code>{escape(r['url'])}</code>"
        first += f", version {escape(r['version'])})" if "version" in r else ")"
        lines = [first, escape(r.get("description", ""))]
        if rtype == "CodeSystem":
            codes = ", ".join(f"<code>{escape(c['code'])}</code>" for c in r["concept"])
            lines.append(f"Codes: {codes}.")
        return lines
    if rtype == "NamingSystem":
        ids = ", ".join(f"<code>{escape(u['value'])}</code>" for u in r["uniqueId"])
        return [f"<b>{escape(r['name'])}</b> (identifier system {ids})", escape(r["description"])]
    return [_instance_summary(r)]


def _instance_summary(r: dict[str, Any]) -> str:
    """One line for an example instance: its type and id, then what it says."""
    parts = [f"{r['resourceType']} <code>{escape(r.get('id', ''))}</code>"]
    for key in ("title", "code", "valueCodeableConcept", "valueQuantity", "valueString"):
        value = r.get(key)
        if isinstance(value, str):
            parts.append(escape(value))
        elif isinstance(value, dict):
            parts.append(escape(_label(value)))
    if "deviceName" in r:
        parts.append(escape(", ".join(n["name"] for n in r["deviceName"])))
    if "entry" in r:
        parts.append(f"{len(r['entry'])} entries")
    return ": ".join(p for p in parts if p)


def _label(value: dict[str, Any]) -> str:
    """A CodeableConcept's text or first display, or a Quantity's value and unit."""
    if "text" in value:
        return str(value["text"])
    for coding in value.get("coding", []):
        if "display" in coding:
            return str(coding["display"])
    if "value" in value:
        return f"{value['value']} {value.get('unit', '')}".strip()
    return ""

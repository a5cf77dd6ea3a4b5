"""JSON Schemas of CDS Hooks 2.0 responses, written from the specification's tables.

"Discovery" (``services``: hook, title, description, id, prefetch,
usageRequirements), "CDS Service Response" (``cards``, ``systemActions``), "Card
Attributes" (uuid, summary < 140 characters, detail, indicator info / warning /
critical, source with label/url/icon/topic, suggestions, selectionBehavior required
with suggestions, overrideReasons as Codings with a display, links absolute or
smart), "Suggestion" and "Action" (create/update/delete; a create carries a
resource).  ``additionalProperties: false`` everywhere except ``extension`` and FHIR
resources, so a misspelt field fails.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]

_URL = {"type": "string", "pattern": "^https?://[^\\s]+$"}
_CODING = {
    "type": "object",
    "properties": {
        "system": {"type": "string"},
        "code": {"type": "string", "minLength": 1},
        "display": {"type": "string"},
    },
    "required": ["code"],
    "additionalProperties": False,
}
_RESOURCE = {
    "type": "object",
    "properties": {"resourceType": {"type": "string", "pattern": "^[A-Z][A-Za-z]+$"}},
    "required": ["resourceType"],
}
_ACTION = {
    "type": "object",
    "properties": {
        "type": {"enum": ["create", "update", "delete"]},
        "description": {"type": "string", "minLength": 1},
        "resource": _RESOURCE,
        "resourceId": {"type": "string"},
    },
    "required": ["type", "description"],
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"type": {"enum": ["create", "update"]}}},
            "then": {"required": ["resource"]},
        }
    ],
}
CARD: dict[str, Any] = {
    "type": "object",
    "properties": {
        "uuid": {"type": "string", "format": "uuid"},
        "summary": {"type": "string", "minLength": 1, "maxLength": 139},
        "detail": {"type": "string"},
        "indicator": {"enum": ["info", "warning", "critical"]},
        "source": {
            "type": "object",
            "properties": {
                "label": {"type": "string", "minLength": 1},
                "url": _URL,
                "icon": _URL,
                "topic": _CODING,
            },
            "required": ["label"],
            "additionalProperties": False,
        },
        "suggestions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "label": {"type": "string", "minLength": 1},
                    "uuid": {"type": "string", "format": "uuid"},
                    "isRecommended": {"type": "boolean"},
                    "actions": {"type": "array", "items": _ACTION},
                },
                "required": ["label"],
                "additionalProperties": False,
            },
        },
        "selectionBehavior": {"enum": ["at-most-one", "any"]},
        "overrideReasons": {
            "type": "array",
            "items": {**_CODING, "required": ["code", "display"]},
        },
        "links": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "label": {"type": "string", "minLength": 1},
                    "url": _URL,
                    "type": {"enum": ["absolute", "smart"]},
                    "appContext": {"type": "string"},
                },
                "required": ["label", "url", "type"],
                "additionalProperties": False,
            },
        },
        "extension": {"type": "object"},
    },
    "required": ["summary", "indicator", "source"],
    "dependentRequired": {"suggestions": ["selectionBehavior"]},
    "additionalProperties": False,
}
RESPONSE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "cards": {"type": "array", "items": CARD},
        "systemActions": {"type": "array", "items": _ACTION},
        "extension": {"type": "object"},
    },
    "required": ["cards"],
    "additionalProperties": False,
}
DISCOVERY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "services": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "hook": {"type": "string", "minLength": 1},
                    "title": {"type": "string"},
                    "description": {"type": "string", "minLength": 1},
                    "id": {"type": "string", "pattern": "^[A-Za-z0-9\\-]+$"},
                    "prefetch": {"type": "object", "additionalProperties": {"type": "string"}},
                    "usageRequirements": {"type": "string"},
                    "extension": {"type": "object"},
                },
                "required": ["hook", "description", "id"],
                "additionalProperties": False,
            },
        },
        "extension": {"type": "object"},
    },
    "required": ["services"],
    "additionalProperties": False,
}


def schema_errors(instance: Any, schema: dict[str, Any]) -> list[str]:
    """Every violation of ``schema`` (formats checked), as ``path: message`` lines."""
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    return [
        f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(instance)
    ]  # (jsonschema ships no type information: the list is built from its errors)

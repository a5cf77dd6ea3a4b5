"""Reading the environment: the problems found so far, and the error that lists them."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from urllib.parse import urlsplit


class SettingsError(ValueError):
    """One or more settings are invalid; the message lists them all on one line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid settings: " + "; ".join(problems))
        self.problems = problems


class Env:
    """The environment being read, and the problems found so far."""

    def __init__(self, environ: Mapping[str, str] | None) -> None:
        self.values: Mapping[str, str] = os.environ if environ is None else environ
        self.problems: list[str] = []

    def text(self, name: str) -> str | None:
        """A variable's value; unset and empty are the same (None)."""
        return self.values.get(name) or None

    def number(
        self,
        name: str,
        default: float,
        kind: type[int] | type[float],
        low: float,
        high: float = math.inf,
    ) -> float:
        """A number within [low, high]; a problem is recorded and the default given otherwise."""
        raw = self.values.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = kind(raw)
        except ValueError:
            self.problems.append(f"{name} must be a{'n' if kind is int else ''} {kind.__name__}")
            return default
        if not math.isfinite(value):
            self.problems.append(f"{name} must be a finite number")
            return default
        if value < low:
            self.problems.append(f"{name} must be at least {low}")
            return default
        if value > high:
            self.problems.append(f"{name} must be at most {high}")
            return default
        return value

    def check(self) -> None:
        """Raise ``SettingsError`` naming every problem found so far.

        Raises:
            SettingsError: when any variable read so far was invalid.
        """
        if self.problems:
            raise SettingsError(self.problems)


def http_url(env: Env, name: str) -> str | None:
    """An http(s) URL variable (a problem is recorded when it is not one)."""
    value = env.text(name)
    if value is not None:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            env.problems.append(f"{name} must be an http(s) URL")
    return value

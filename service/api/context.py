"""What the endpoints share: settings, the application, the clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from service.bootstrap import Application
from service.settings import Settings


@dataclass
class Context:
    """The composition root's products, one per Flask application."""

    settings: Settings
    application: Application
    clock: Callable[[], dt.datetime]

    def now(self) -> dt.datetime:
        """The derivation time (whole seconds, UTC)."""
        return self.clock().astimezone(dt.UTC).replace(microsecond=0)

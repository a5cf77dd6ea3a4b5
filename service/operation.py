"""Former home of the stateless derivation, now ``service.app.derivation``.

Kept only because ``service/fhir/build_profiles.py`` and ``tests/unit/test_inbound.py``
(both being rewritten elsewhere) import ``derive`` from here; delete once they
import ``service.app.derivation``.
"""

from service.app.derivation import derive

__all__ = ["derive"]

"""Per-request cost of checking a bearer token once the issuer's keys are cached.

The JWKS is served by a real loopback HTTP server (``tests.builders.tokens``) and read
through the service's own ``JwksKeys`` (PyJWT's ``PyJWKClient``); after the first read
every check uses the cached key set.  Prints the mean and p99 CPU time per check for
RS256 and ES384 tokens.  Run: ``PYTHONPATH=. .venv/bin/python bench/token_verification.py``.
"""

from __future__ import annotations

import statistics
import time

from service.auth.tokens import JwksKeys, TokenVerifier
from tests.builders.tokens import AUDIENCE, ISSUER, Issuer, jwks_server

ROUNDS = 2000


def main() -> None:
    """Time ``TokenVerifier.verify`` per algorithm, keys cached."""
    issuer = Issuer()
    issuer.add_key("rsa-1", "RS256")
    issuer.add_key("ec-1", "ES384")
    with jwks_server(issuer) as server:
        verifier = TokenVerifier(ISSUER, AUDIENCE, JwksKeys(server.url))
        for kid in ("rsa-1", "ec-1"):
            token = issuer.token(kid=kid)
            verifier.verify(token)  # the first check reads the JWKS
            alg = issuer.keys[kid][0]
            # "signature": a new token each time (check); "remembered": the same token again.
            for label, run in (("signature", verifier.check), ("remembered", verifier.verify)):
                times = []
                for _ in range(ROUNDS):
                    start = time.process_time()
                    run(token)
                    times.append(time.process_time() - start)
                times.sort()
                mean = statistics.fmean(times) * 1000
                p99 = times[int(len(times) * 0.99)] * 1000
                print(f"{alg} {label}: mean {mean:.3f} ms, p99 {p99:.3f} ms CPU per check")
        print(f"JWKS fetches: {server.fetches}")


if __name__ == "__main__":
    main()

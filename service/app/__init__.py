"""The application layer: one core for every entry point (HTTP API, command line, workers).

- ``derivation``: read → rules → output resources, built once per request or patient;
- ``store``: the port write-back needs (a ``Protocol``); ``fhir_store`` implements it
  over the EHR's FHIR server, ``memory_store`` in memory (tests, local runs);
- ``planning``: what to write, as a pure function of the outputs and what is stored;
- ``locks``: per-key write locks shared by every worker of one host;
- ``rederive``: the command "re-derive this patient" (fetch, derive, plan, lock, commit).

``service.bootstrap`` wires them together.
"""

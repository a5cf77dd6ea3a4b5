"""The bulk job (issue 11): re-derive a population from a FHIR Bulk Data export.

An entry point like the API and the CLI: it reads an export (``source``),
projects and keys each record (``partition``, with ``service.fhir.projection``),
runs the Patient-level operation's per-patient function (``patient``) on the
embedded engine (``embedded``) or Apache Spark (``spark``), and writes the
output directory (``results``, ``outputs``, ``summary``, ``report``);
``export`` runs ``$export`` and ``writeback`` writes results back.
"""

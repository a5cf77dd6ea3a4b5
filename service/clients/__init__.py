"""Clients of other systems: the EHR's FHIR server."""

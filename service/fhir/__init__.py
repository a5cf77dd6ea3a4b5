"""FHIR R4 mapping: inbound reading into rule inputs, outbound resources, OperationOutcome.

Mapping only: no Flask and no network here.  Camel-case FHIR names live in this
package alone.
"""

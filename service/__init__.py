"""her2-status: guideline-exact HER2 status from FHIR R4 pathology results."""

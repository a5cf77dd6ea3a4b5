"""Development tools run from a checkout (never installed; see ``scripts/guide``)."""

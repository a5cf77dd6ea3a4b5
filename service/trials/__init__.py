"""HER2-aware clinical-trial matching (issue 14): criteria, matching, study records."""

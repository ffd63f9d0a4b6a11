"""The result model: verdicts, evidence folders, redaction, test and run results."""

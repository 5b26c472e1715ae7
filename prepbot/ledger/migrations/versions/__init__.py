"""Ledger schema revisions (one file per revision)."""

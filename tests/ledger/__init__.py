"""Ledger contract tests."""

"""Alembic migrations of the ledger, shipped inside the package and run by SqlLedger."""

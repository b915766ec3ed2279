"""The sandbox bank's domain: consents, accounts, transactions, limits and faults (no HTTP)."""

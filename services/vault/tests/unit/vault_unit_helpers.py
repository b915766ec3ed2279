"""Callers the vault's unit tests share (imported by name: this folder is on sys.path)."""

from __future__ import annotations

from vault.domain.caller import Caller

AGGREGATION = Caller("aggregation")
PAYMENTS = Caller("payments")
ARCHIVE = Caller("archive")
FRAUD = Caller("fraud")
BACKOFFICE = Caller("backoffice", operator="alice")

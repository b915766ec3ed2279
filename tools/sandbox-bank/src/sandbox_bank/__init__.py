"""Coffre's sandbox bank: a PSD2 account-information agent speaking Berlin Group NextGenPSD2.

It is a development and test double. All state lives in memory; the data it serves is
generated from a seed, so the same PSU id always sees the same accounts and history.
"""

from sandbox_bank.app import create_app
from sandbox_bank.settings import SandboxSettings

__all__ = ["SandboxSettings", "create_app"]

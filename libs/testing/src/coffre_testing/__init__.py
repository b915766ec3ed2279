"""Coffre test utilities: the pytest plugin, infra fixtures, helpers and an example service."""

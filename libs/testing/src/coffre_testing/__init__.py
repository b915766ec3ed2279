"""Coffre's shared test utilities: the pytest plugin, infra fixtures, helpers and an example service."""

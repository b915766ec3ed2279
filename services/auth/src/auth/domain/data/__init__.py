"""Data files shipped with the auth domain."""

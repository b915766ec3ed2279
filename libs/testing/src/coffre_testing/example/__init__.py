"""A minimal service built the way every Coffre service is; the backbone's tests run it."""

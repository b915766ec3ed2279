"""HTTP edge helpers: the app factory, RFC 9457 problem responses, health endpoints."""

from common.http.app import create_service_app, get_runtime
from common.http.problems import PROBLEM_JSON, problem_response

__all__ = ["PROBLEM_JSON", "create_service_app", "get_runtime", "problem_response"]

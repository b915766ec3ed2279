"""Run the sandbox bank with uvicorn on SANDBOX_BANK_HOST / SANDBOX_BANK_PORT."""

import uvicorn

from sandbox_bank.app import create_app
from sandbox_bank.settings import SandboxSettings


def main() -> None:
    """Start the sandbox bank (default 127.0.0.1:8010); access log off, as paths carry secrets."""
    settings = SandboxSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=settings.access_log,
        # Idle connections outlive every client's pool (httpx keeps them 5 s, as uvicorn's
        # default does): with equal timeouts a reused connection can be closed under a request.
        timeout_keep_alive=75,
    )


if __name__ == "__main__":
    main()

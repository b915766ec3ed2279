"""Where things are: the workspace root, the state folder and the services that exist."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORTS = {
    "auth": 8001,
    "vault": 8002,
    "aggregation": 8003,
    "fraud": 8004,
    "payments": 8005,
    "archive": 8006,
}
SANDBOX_BANK_PORT = 8010
SMTP_PORT = 8025  # archive's e-mail intake


def workspace_root(start: Path | None = None) -> Path:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.exists() and "[tool.uv.workspace]" in pyproject.read_text():
            return folder
    raise FileNotFoundError("run this inside the Coffre workspace (no workspace pyproject found)")


def state_dir(root: Path) -> Path:
    return Path(os.environ.get("COFFRE_STATE_DIR", root / ".state")).resolve()


def venv_bin(name: str) -> str:
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: int

    @property
    def command(self) -> str:
        return venv_bin(f"coffre-{self.name}")


def discover_services(root: Path) -> list[ServiceSpec]:
    """Every service folder that has an entry point, in the order of DEFAULT_PORTS."""
    found = []
    for name, port in DEFAULT_PORTS.items():
        if (root / "services" / name / "src" / name / "entrypoints" / "main.py").exists():
            found.append(ServiceSpec(name, port))
    return found

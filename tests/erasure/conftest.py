"""The cross-service erasure test reuses auth's and aggregation's integration helpers."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for service in ("aggregation", "auth"):
    sys.path.insert(0, str(ROOT / "services" / service / "tests" / "integration"))

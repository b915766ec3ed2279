"""What rendering a receipt to PDF produced, and whether it is an archival PDF/A-2b.

Rules:
- A rendered PDF is PDF/A-2b only when every requirement the converter checks is met (XMP
  identification, an embedded output intent, embedded fonts, device colours that match the
  output intent, printable annotations with appearances, nothing active, no encryption).
- When the input does not allow it without re-rendering the pages (a font that is not
  embedded, CMYK colours without a CMYK profile...), the clean PDF is kept as it is, without
  any PDF/A claim, and the reason is recorded: a receipt never claims PDF/A falsely.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    pdfa: bool
    pdfa_reason: str | None = None
    """Why the PDF is not PDF/A-2b (None when it is)."""

    def __post_init__(self) -> None:
        if self.pdfa == (self.pdfa_reason is not None):
            raise ValueError("a PDF/A rendering has no reason; a plain one says why")

    @classmethod
    def archival(cls, pdf: bytes) -> Rendered:
        return cls(pdf, True)

    @classmethod
    def plain(cls, pdf: bytes, reason: str) -> Rendered:
        return cls(pdf, False, reason[:300])

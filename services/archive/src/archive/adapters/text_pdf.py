"""E-mail bodies rendered to PDF/A-2b with an embedded font (reportlab, then `pdfa`).

Rules:
- The body is set in one TrueType font embedded in the file (a subset): DejaVu Sans when the
  system has it (Debian `fonts-dejavu-core`), else Bitstream Vera, which ships inside reportlab
  itself, so a font is always found; `ARCHIVE_BODY_FONT_FILE` names another one.
- A character the font lacks is written as '?', never as the missing glyph (PDF/A forbids it).
- Only text is drawn: the caller gives plain text (HTML already reduced to its text, nothing
  fetched, no script run). At most 5,000 lines.
"""

from __future__ import annotations

import functools
import io
import textwrap
from pathlib import Path

import pikepdf
import reportlab
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from archive.adapters import pdfa
from archive.domain.rendering import Rendered

SYSTEM_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)
BUNDLED_FONT = Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"
MAX_LINES = 5000


def font_file(configured: str | None = None) -> Path:
    """The font to embed: the configured one, else DejaVu Sans, else reportlab's Vera."""
    for candidate in (configured, *SYSTEM_FONTS):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return BUNDLED_FONT


@functools.cache
def _font(path: Path) -> tuple[str, frozenset[int]]:
    name = f"CoffreBody-{abs(hash(str(path))) % 10**8}"
    font = TTFont(name, str(path))
    pdfmetrics.registerFont(font)
    return name, frozenset(font.face.charToGlyph)


def _printable(value: str, glyphs: frozenset[int]) -> str:
    return "".join(c if ord(c) in glyphs else "?" for c in value if c.isprintable() or c == " ")


def _draw(title: str, text: str, font: Path) -> bytes:
    name, glyphs = _font(font)
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=True, initialFontName=name)
    canvas.setTitle(_printable(title[:200], glyphs))
    _, height = A4
    y = height - 60

    def line(value: str, size: int = 10) -> None:
        nonlocal y
        if y < 50:
            canvas.showPage()
            y = height - 60
        canvas.setFont(name, size)
        canvas.drawString(50, y, _printable(value, glyphs))
        y -= size + 4

    line(title, 13)
    y -= 8
    for paragraph in text.expandtabs(4).splitlines()[:MAX_LINES]:
        for wrapped in textwrap.wrap(paragraph, 95) or [""]:
            line(wrapped)
    canvas.save()
    return out.getvalue()


def text_to_pdf(title: str, text: str, font: Path | None = None) -> Rendered:
    """A4 pages of the text under its title, as PDF/A-2b."""
    drawn = _draw(title, text, font or font_file())
    with pikepdf.open(io.BytesIO(drawn)) as pdf:
        reason = pdfa.to_pdfa(pdf)
        document = pdfa.save(pdf)
    return Rendered.archival(document) if reason is None else Rendered.plain(document, reason)

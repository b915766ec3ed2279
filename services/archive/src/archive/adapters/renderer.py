"""The `Renderer` port over images.py, pdfs.py and text_pdf.py, off the event loop (the work is
CPU-bound)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from archive.adapters.images import image_to_pdf
from archive.adapters.pdfs import sanitise_pdf
from archive.adapters.text_pdf import font_file, text_to_pdf
from archive.domain.files import Kind
from archive.domain.rendering import Rendered


class PdfRenderer:
    def __init__(self, max_pixels: int, body_font_file: str | None = None) -> None:
        self._max_pixels = max_pixels
        self._font: Path = font_file(body_font_file)

    def render(self, content: bytes, kind: Kind) -> Rendered:
        if kind is Kind.PDF:
            return sanitise_pdf(content)
        return image_to_pdf(content, kind, self._max_pixels)

    async def to_pdf(self, content: bytes, kind: Kind) -> Rendered:
        return await asyncio.to_thread(self.render, content, kind)

    async def text_to_pdf(self, title: str, text: str) -> Rendered:
        return await asyncio.to_thread(text_to_pdf, title, text, self._font)

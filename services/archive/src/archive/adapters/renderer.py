"""The `Renderer` port over images.py and pdfs.py, off the event loop (the work is CPU-bound)."""

from __future__ import annotations

import asyncio

from archive.adapters.images import image_to_pdf
from archive.adapters.pdfs import sanitise_pdf, text_to_pdf
from archive.domain.files import Kind


class PdfRenderer:
    def __init__(self, max_pixels: int) -> None:
        self._max_pixels = max_pixels

    def render(self, content: bytes, kind: Kind) -> bytes:
        if kind is Kind.PDF:
            return sanitise_pdf(content)
        return image_to_pdf(content, kind, self._max_pixels)

    async def to_pdf(self, content: bytes, kind: Kind) -> bytes:
        return await asyncio.to_thread(self.render, content, kind)

    async def text_to_pdf(self, title: str, text: str) -> bytes:
        return await asyncio.to_thread(text_to_pdf, title, text)

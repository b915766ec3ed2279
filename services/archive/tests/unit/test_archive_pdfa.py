"""PDF/A-2b where the input allows it, the reason where it does not, and the seal on top.

Each result is checked by `archive_pdfa_check` (written apart from the converter) and
`qpdf --check`; sealed results also by pdfsig and pyHanko's validation.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest
from archive.adapters.images import image_to_pdf
from archive.adapters.pdfs import sanitise_pdf
from archive.adapters.pyhanko_sealer import PadesSealer
from archive.adapters.text_pdf import BUNDLED_FONT, font_file, text_to_pdf
from archive.domain.files import Kind
from archive.domain.rendering import Rendered
from archive_pdfa_check import claims_pdfa, pdfa_2b_problems, pdfsig_says_valid
from archive_unit_helpers import jpeg, pdf
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

pytestmark = pytest.mark.unit
pdfmetrics.registerFont(TTFont("SampleVera", str(BUNDLED_FONT)))


def _drawn(font: str = "SampleVera", *, cmyk: bool = False, claim_pdfa: bool = False) -> bytes:
    out = io.BytesIO()
    canvas = Canvas(out, initialFontName=font)
    canvas.setFont(font, 12)
    canvas.drawString(72, 720, "Boulangerie Dupont - total 12,50 EUR")
    if cmyk:
        canvas.setFillColorCMYK(0, 0.5, 1, 0)
        canvas.rect(72, 600, 100, 50, fill=1)
    canvas.save()
    if not claim_pdfa:
        return out.getvalue()
    with pikepdf.open(io.BytesIO(out.getvalue())) as doc:
        with doc.open_metadata() as meta:
            meta["pdfaid:part"] = "2"
            meta["pdfaid:conformance"] = "B"
        claimed = io.BytesIO()
        doc.save(claimed)
    return claimed.getvalue()


def _with_annotation(subtype: str, flags: int) -> bytes:
    with pikepdf.open(io.BytesIO(_drawn())) as doc:
        annot = pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name(subtype), Rect=[10, 10, 90, 40], F=flags
        )
        if subtype == "/Link":
            annot.A = pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("https://x.eu"))
        doc.pages[0].obj.Annots = doc.make_indirect(pikepdf.Array([annot]))
        out = io.BytesIO()
        doc.save(out)
    return out.getvalue()


def _archival(result: Rendered) -> bytes:
    assert result.pdfa, result.pdfa_reason
    assert result.pdfa_reason is None
    assert pdfa_2b_problems(result.pdf) == []
    return result.pdf


def test_a_pdf_with_embedded_fonts_becomes_pdf_a_2b() -> None:
    source = _drawn()
    assert pdfa_2b_problems(source) != []
    _archival(sanitise_pdf(source))


def test_a_pdf_stripped_of_javascript_and_attachments_becomes_pdf_a_2b() -> None:
    _archival(sanitise_pdf(pdf(javascript=True, attachment=True)))


def test_a_hidden_annotation_is_made_printable_for_pdf_a() -> None:
    document = _archival(sanitise_pdf(_with_annotation("/Link", 2)))
    with pikepdf.open(io.BytesIO(document)) as doc:
        assert int(doc.pages[0].Annots[0].F) & 4


def test_a_pdf_with_a_font_not_embedded_stays_plain_and_says_why() -> None:
    result = sanitise_pdf(_drawn("Helvetica", claim_pdfa=True))
    assert result.pdfa is False
    assert result.pdfa_reason == "font Helvetica is not embedded"
    assert claims_pdfa(result.pdf) is False


def test_a_pdf_with_device_cmyk_colours_stays_plain_and_says_why() -> None:
    result = sanitise_pdf(_drawn(cmyk=True))
    assert result.pdfa is False
    assert "CMYK" in str(result.pdfa_reason)
    assert claims_pdfa(result.pdf) is False


def test_an_annotation_without_appearance_stays_plain_and_says_why() -> None:
    result = sanitise_pdf(_with_annotation("/Square", 4))
    assert result.pdfa_reason == "a Square annotation has no appearance"
    assert claims_pdfa(result.pdf) is False


def test_a_cmyk_jpeg_kept_as_is_is_not_claimed_as_pdf_a() -> None:
    buffer = io.BytesIO()
    from PIL import Image

    Image.new("CMYK", (64, 48), (0, 50, 100, 0)).save(buffer, format="JPEG")
    result = image_to_pdf(buffer.getvalue(), Kind.JPEG, 10_000_000)
    assert result.pdfa is False
    assert claims_pdfa(result.pdf) is False


def test_an_email_body_becomes_pdf_a_2b_with_its_font_embedded() -> None:
    result = text_to_pdf("Votre reçu", "Total : 12,50 €\nMerci, Łódź, Жёлтый\n\tligne")
    _archival(result)


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) missing")
def test_a_character_the_font_lacks_is_written_as_a_question_mark(tmp_path: Path) -> None:
    result = text_to_pdf("Receipt", "Total 12,50 € 合計", font=BUNDLED_FONT)
    path = tmp_path / "body.pdf"
    path.write_bytes(_archival(result))
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "Total 12,50 € ??" in text


def test_the_body_font_is_always_found() -> None:
    assert font_file("/nonexistent/font.ttf").is_file()
    assert BUNDLED_FONT.is_file()


@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="pdfsig (poppler-utils) missing")
def test_the_seal_keeps_every_pdf_a_output_pdf_a_and_valid(sealer: PadesSealer) -> None:
    outputs = [
        sanitise_pdf(_drawn()),
        sanitise_pdf(pdf(javascript=True)),
        text_to_pdf("Reçu", "Total 9,90 €"),
        image_to_pdf(jpeg(), Kind.JPEG, 10_000_000),
    ]
    for result in outputs:
        sealed = asyncio.run(sealer.seal(_archival(result)))
        assert sealed.startswith(result.pdf)
        assert pdfa_2b_problems(sealed) == []
        check = asyncio.run(sealer.check(sealed))
        assert check.problems == ()
        assert check.level == "PAdES-B-LT"
        assert pdfsig_says_valid(sealed)


@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_no_srgb_profile_file_outlives_the_process(ending: str, tmp_path: Path) -> None:
    """The ICC profile img2pdf reads from a path is the process's own, and nothing of it is
    left in the temp directory when the process ends, even SIGKILLed: every archive process
    that rendered an image used to leave a file there (two per test run, more in production)."""
    script = (
        "import os, signal, sys; from archive.adapters.images import srgb_profile, image_to_pdf; "
        "from archive.domain.files import Kind; "
        f"image_to_pdf({jpeg()!r}, Kind.JPEG, 10**7); "
        "path = srgb_profile(); assert open(path, 'rb').read()[36:40] == b'acsp'; "
        f"{'os.kill(os.getpid(), signal.SIGKILL)' if ending == 'sigkill' else 'sys.exit(0)'}"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == (-9 if ending == "sigkill" else 0), done.stderr
    assert list(tmp_path.iterdir()) == []

"""An independent check of the PDF/A-2b essentials (veraPDF is not installable here).

Written apart from the converter and walking the file differently (every object, not what the
pages reach): XMP pdfaid part 2 / conformance B in an unfiltered metadata stream, a GTS_PDFA1
output intent with an embedded ICC profile, every font embedded, no encryption, JavaScript,
embedded files, launch actions or LZW, printable visible annotations, a trailer ID, PDF <= 1.7.
Also runs `qpdf --check` when qpdf is installed.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pikepdf

PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"


def _xmp_pdfaid(raw: bytes) -> tuple[str | None, str | None]:
    root = ET.fromstring(raw.strip().rstrip(b"\x00"))
    part = conformance = None
    for node in root.iter():
        part = node.get(PDFAID + "part", part)
        conformance = node.get(PDFAID + "conformance", conformance)
        if node.tag == PDFAID + "part":
            part = (node.text or "").strip()
        if node.tag == PDFAID + "conformance":
            conformance = (node.text or "").strip()
    return part, conformance


def _font_problem(font: pikepdf.Dictionary) -> str | None:
    subtype = str(font.get("/Subtype"))
    if subtype == "/Type3" or subtype == "/CIDFontType0" or subtype == "/CIDFontType2":
        return None  # Type 3 draws its glyphs; CID fonts are checked from their Type 0 parent
    target = font.DescendantFonts[0] if subtype == "/Type0" else font
    descriptor = target.get("/FontDescriptor")
    files = ("/FontFile", "/FontFile2", "/FontFile3")
    if descriptor is None or not any(k in descriptor for k in files):
        return f"font {font.get('/BaseFont')} not embedded"
    return None


def _object_problems(pdf: pikepdf.Pdf) -> list[str]:
    problems = []
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Dictionary):
            continue
        if str(obj.get("/Type")) == "/Font":
            problems.append(_font_problem(obj))
        for key in ("/JS", "/EmbeddedFiles", "/EF", "/XFA"):
            if key in obj:
                problems.append(f"{key} present")
        if str(obj.get("/S")) in ("/JavaScript", "/Launch"):
            problems.append(f"{obj.get('/S')} action")
        if "/LZWDecode" in str(obj.get("/Filter", "")):
            problems.append("LZW stream")
        if "/Rect" in obj and "/Subtype" in obj and str(obj.get("/Subtype")) != "/Popup":
            flags = int(obj.get("/F", 0))
            if not flags & 4 or flags & (1 | 2 | 32 | 256):
                problems.append(f"annotation {obj.get('/Subtype')} not printable (F={flags})")
    return [p for p in problems if p]


def _intent_problems(pdf: pikepdf.Pdf) -> list[str]:
    intents = [i for i in pdf.Root.get("/OutputIntents", []) if str(i.get("/S")) == "/GTS_PDFA1"]
    if len(intents) != 1 or "/DestOutputProfile" not in intents[0]:
        return ["no single GTS_PDFA1 output intent with a profile"]
    icc = intents[0].DestOutputProfile.read_bytes()
    return [] if icc[36:40] == b"acsp" else ["the output intent's profile is not ICC"]


def pdfa_2b_problems(document: bytes) -> list[str]:
    """Every PDF/A-2b essential this document misses (empty when it has them all)."""
    problems: list[str] = []
    header = document[:8]
    if not header.startswith(b"%PDF-1.") or header[7:8] not in b"01234567":
        problems.append(f"header {header!r}")
    with pikepdf.open(io.BytesIO(document)) as pdf:
        if pdf.is_encrypted or "/Encrypt" in pdf.trailer:
            problems.append("encrypted")
        ids = pdf.trailer.get("/ID")
        if ids is None or len(ids) != 2:
            problems.append("no trailer ID")
        metadata = pdf.Root.get("/Metadata")
        if metadata is None:
            problems.append("no XMP metadata")
        else:
            if "/Filter" in metadata:
                problems.append("metadata stream filtered")
            if _xmp_pdfaid(metadata.read_bytes()) != ("2", "B"):
                problems.append(f"XMP pdfaid is {_xmp_pdfaid(metadata.read_bytes())}")
        if "/AA" in pdf.Root:
            problems.append("document additional actions")
        problems += _intent_problems(pdf) + _object_problems(pdf)
    return problems + qpdf_problems(document)


def claims_pdfa(document: bytes) -> bool:
    with pikepdf.open(io.BytesIO(document)) as pdf:
        metadata = pdf.Root.get("/Metadata")
        return metadata is not None and _xmp_pdfaid(metadata.read_bytes()) != (None, None)


def qpdf_problems(document: bytes) -> list[str]:
    if shutil.which("qpdf") is None:
        return []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "doc.pdf"
        path.write_bytes(document)
        found = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    return [] if found.returncode == 0 else [f"qpdf --check: {found.stdout[-300:]}"]


def pdfsig_says_valid(document: bytes) -> bool:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sealed.pdf"
        path.write_bytes(document)
        found = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True)
    return found.returncode == 0 and "Signature is Valid." in found.stdout


def pdf_text(document: bytes) -> str:
    """The text pdftotext (poppler-utils) reads from the document."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "doc.pdf"
        path.write_bytes(document)
        found = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True)
    return found.stdout

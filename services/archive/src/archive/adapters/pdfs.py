"""Incoming PDFs checked and rewritten (pikepdf / qpdf), and text rendered to PDF.

Rules:
- An encrypted PDF is refused (we cannot vouch for what we cannot read); a file qpdf cannot
  open, or with no page, is refused.
- Everything active is removed: document and page open/additional actions, JavaScript (name
  tree and every action), launch / import / submit actions, embedded files and file
  attachment annotations, XFA forms.
- The result is written anew by qpdf: fresh cross-reference table, no broken structure.
- The clean document is then made PDF/A-2b when it allows it (`archive.adapters.pdfa`); when
  it does not, it is kept as it is, with the reason and no PDF/A claim.
"""

from __future__ import annotations

import io

import pikepdf
from pikepdf import Dictionary, Name

from archive.adapters import pdfa
from archive.domain.errors import EncryptedPdfRefused, ReceiptRejected
from archive.domain.rendering import Rendered

DANGEROUS_ACTIONS = frozenset(
    {
        "/JavaScript",
        "/Launch",
        "/ImportData",
        "/SubmitForm",
        "/GoToE",
        "/RichMediaExecute",
        "/Rendition",
        "/Sound",
        "/Movie",
    }
)


def _scrub(obj: Dictionary) -> int:
    removed = 0
    for key in ("/JS", "/AA", "/OpenAction", "/EmbeddedFiles", "/EF", "/XFA"):
        if key in obj:
            del obj[key]
            removed += 1
    action = obj.get("/A")
    if isinstance(action, Dictionary) and str(action.get("/S")) in DANGEROUS_ACTIONS:
        del obj["/A"]
        removed += 1
    if str(obj.get("/S")) in DANGEROUS_ACTIONS and str(obj.get("/Type", "/Action")) == "/Action":
        obj["/S"] = Name("/Named")
        obj["/N"] = Name("/FirstPage")
        removed += 1
    return removed


def _drop_attachments(pdf: pikepdf.Pdf) -> int:
    removed = 0
    for page in pdf.pages:
        annots = page.obj.get("/Annots")
        if isinstance(annots, pikepdf.Array):
            keep = [a for a in annots if str(a.get("/Subtype")) != "/FileAttachment"]
            removed += len(annots) - len(keep)
            page.obj["/Annots"] = pikepdf.Array(keep)
    names = pdf.Root.get("/Names")
    if isinstance(names, Dictionary):
        for key in ("/JavaScript", "/EmbeddedFiles"):
            if key in names:
                del names[key]
                removed += 1
    return removed


def sanitise_pdf(content: bytes) -> Rendered:
    try:
        pdf = pikepdf.open(io.BytesIO(content))
    except pikepdf.PasswordError:
        raise EncryptedPdfRefused("the PDF is password-protected; send it unprotected") from None
    except (pikepdf.PdfError, ValueError, RecursionError):
        raise ReceiptRejected("the PDF is damaged beyond repair", reason="broken-pdf") from None
    with pdf:
        if pdf.is_encrypted:
            raise EncryptedPdfRefused("the PDF is encrypted; send it unprotected")
        try:
            if len(pdf.pages) == 0:
                raise ReceiptRejected("the PDF has no page", reason="broken-pdf")
            _drop_attachments(pdf)
            for obj in pdf.objects:
                if isinstance(obj, Dictionary):
                    _scrub(obj)
            form = pdf.Root.get("/AcroForm")
            if isinstance(form, Dictionary):
                _scrub(form)
            pdf.remove_unreferenced_resources()
            reason = pdfa.to_pdfa(pdf)
            clean = pdfa.save(pdf)
        except ReceiptRejected:
            raise
        except (pikepdf.PdfError, ValueError, RecursionError, KeyError, TypeError):
            raise ReceiptRejected("the PDF structure is broken", reason="broken-pdf") from None
    return Rendered.archival(clean) if reason is None else Rendered.plain(clean, reason)

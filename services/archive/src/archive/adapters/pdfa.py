"""Making a clean PDF a PDF/A-2b (pikepdf / qpdf), or saying precisely why it cannot be.

Rules (ISO 19005-2, level B; the parts that can be fixed without re-rendering a page):
- Blockers, checked before anything is changed: a font used by a page, form or annotation
  appearance that is not embedded; device colours of the wrong family for the output intent
  (DeviceCMYK with an RGB intent, DeviceRGB with a CMYK one); an annotation of a forbidden type
  (3D, Sound, Screen, Movie...) or without an appearance; PostScript or reference XObjects;
  transfer functions; JPEG 2000 images; a PDF version above 1.7. One blocker: no PDF/A claim
  at all (an input's own claim is removed), and the first reason is returned.
- Fixes: actions PDF/A forbids are removed, annotations are made printable and visible, image
  interpolation and alternates are dropped, `NeedAppearances` is cleared, optional-content
  configurations get a name, LZW streams are re-encoded (Flate), an sRGB output intent with its
  ICC profile is added when there is none, and the XMP says pdfaid part 2, conformance B (the
  document information is kept in step with it; qpdf writes the trailer ID).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator

import pikepdf
from pikepdf import Array, Dictionary, Name, Stream
from PIL import ImageCms

FORBIDDEN_ANNOTATIONS = frozenset({"/3D", "/Sound", "/Screen", "/Movie", "/RichMedia"})
NO_APPEARANCE_NEEDED = frozenset({"/Popup", "/Link"})
FORBIDDEN_ACTIONS = frozenset(
    {"/Launch", "/Sound", "/Movie", "/ResetForm", "/ImportData", "/Hide", "/SetOCGState"}
    | {"/Rendition", "/Trans", "/GoTo3DView", "/JavaScript", "/RichMediaExecute", "/GoToE"}
)
ALLOWED_NAMED = frozenset({"/NextPage", "/PrevPage", "/FirstPage", "/LastPage"})
PRINT, HIDDEN_FLAGS = 4, 1 | 2 | 32 | 256  # Print; Invisible, Hidden, NoView, ToggleNoView
COLOUR_OPERATORS = {"rg": "RGB", "RG": "RGB", "k": "CMYK", "K": "CMYK"}
DEVICE_SPACES = {"/DeviceRGB": "RGB", "/DeviceCMYK": "CMYK"}


@functools.cache
def srgb_icc() -> bytes:
    """An sRGB ICC profile, made once by littleCMS (through Pillow)."""
    return bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())


class NotPdfa(Exception):
    """The reason a document cannot be made PDF/A-2b without rendering it again."""


def _streams(obj: object) -> Iterator[Stream]:
    if isinstance(obj, Stream):
        yield obj
    elif isinstance(obj, Dictionary):
        for value in obj.values():
            yield from _streams(value)


def _annotations(pdf: pikepdf.Pdf) -> Iterator[Dictionary]:
    for page in pdf.pages:
        annots = page.obj.get("/Annots")
        if isinstance(annots, Array):
            yield from (a for a in annots if isinstance(a, Dictionary))


def _content_holders(pdf: pikepdf.Pdf) -> Iterator[tuple[pikepdf.Object, Dictionary | None]]:
    """Every page and form XObject (reached from resources and appearances), once each."""
    seen: set[tuple[int, int]] = set()
    todo: list[pikepdf.Object] = [page.obj for page in pdf.pages]
    todo += [s for a in _annotations(pdf) for s in _streams(a.get("/AP"))]
    while todo:
        holder = todo.pop()
        if holder.is_indirect:
            if holder.objgen in seen:
                continue
            seen.add(holder.objgen)
        resources = holder.get("/Resources")
        resources = resources if isinstance(resources, Dictionary) else None
        yield holder, resources
        xobjects = resources.get("/XObject") if resources is not None else None
        if isinstance(xobjects, Dictionary):
            todo += [x for x in xobjects.values() if isinstance(x, Stream)]


def _font_embedded(font: Dictionary) -> bool:
    subtype = str(font.get("/Subtype"))
    if subtype == "/Type3":
        return True
    if subtype == "/Type0":
        descendants = font.get("/DescendantFonts")
        if not isinstance(descendants, Array) or len(descendants) != 1:
            return False
        descriptor = descendants[0].get("/FontDescriptor")
    else:
        descriptor = font.get("/FontDescriptor")
    if not isinstance(descriptor, Dictionary):
        return False
    return any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))


def _device_families(holder: pikepdf.Object, resources: Dictionary | None) -> set[str]:
    found: set[str] = set()
    spaces = resources.get("/ColorSpace") if resources is not None else None
    named = dict(spaces.items()) if isinstance(spaces, Dictionary) else {}
    xobjects = resources.get("/XObject") if resources is not None else None
    for xobject in xobjects.values() if isinstance(xobjects, Dictionary) else ():
        space = str(xobject.get("/ColorSpace", ""))
        if space in DEVICE_SPACES:
            found.add(DEVICE_SPACES[space])
    if str(holder.get("/Type", "")) != "/Page" and not isinstance(holder, Stream):
        return found
    for instruction in pikepdf.parse_content_stream(holder, "rg RG k K cs CS"):
        if not isinstance(instruction, pikepdf.ContentStreamInstruction):
            continue
        op, operands = str(instruction.operator), instruction.operands
        if op in COLOUR_OPERATORS:
            found.add(COLOUR_OPERATORS[op])
        elif operands:
            space = str(named.get(str(operands[0]), operands[0]))
            if space in DEVICE_SPACES:
                found.add(DEVICE_SPACES[space])
    return found


def _check_resources(holder: pikepdf.Object, resources: Dictionary | None, family: str) -> None:
    if resources is None:
        return
    fonts = resources.get("/Font")
    for name, font in fonts.items() if isinstance(fonts, Dictionary) else ():
        if isinstance(font, Dictionary) and not _font_embedded(font):
            base = str(font.get("/BaseFont", name)).lstrip("/")[:60]
            raise NotPdfa(f"font {base} is not embedded")
    states = resources.get("/ExtGState")
    for state in states.values() if isinstance(states, Dictionary) else ():
        for key in ("/TR", "/TR2"):
            if key in state and str(state[key]) != "/Default":
                raise NotPdfa("the document uses transfer functions")
    xobjects = resources.get("/XObject")
    for xobject in xobjects.values() if isinstance(xobjects, Dictionary) else ():
        if str(xobject.get("/Subtype")) == "/PS" or "/Ref" in xobject or "/PS" in xobject:
            raise NotPdfa("the document has PostScript or reference XObjects")
        if "/JPXDecode" in str(xobject.get("/Filter", "")):
            raise NotPdfa("the document has JPEG 2000 images")
    wrong = _device_families(holder, resources) - {family}
    if wrong:
        raise NotPdfa(f"the document uses device {wrong.pop()} colours without that profile")


def _intent_family(pdf: pikepdf.Pdf) -> str:
    """The colour family of the document's PDF/A output intent (RGB when it has none)."""
    for intent in pdf.Root.get("/OutputIntents", Array()):
        if str(intent.get("/S")) == "/GTS_PDFA1" and "/DestOutputProfile" in intent:
            components = int(intent.DestOutputProfile.get("/N", 3))
            return {1: "Gray", 3: "RGB", 4: "CMYK"}.get(components, "other")
    return "RGB"


def blockers(pdf: pikepdf.Pdf) -> None:
    """Raise `NotPdfa` with the first reason this document cannot become PDF/A-2b."""
    if pdf.pdf_version > "1.7":
        raise NotPdfa(f"PDF {pdf.pdf_version} is newer than PDF/A-2 allows")
    family = _intent_family(pdf)
    for holder, resources in _content_holders(pdf):
        _check_resources(holder, resources, family)
    for annot in _annotations(pdf):
        subtype = str(annot.get("/Subtype"))
        if subtype in FORBIDDEN_ANNOTATIONS:
            raise NotPdfa(f"the document has a {subtype.lstrip('/')} annotation")
        rect = [float(v) for v in annot.get("/Rect", Array([0, 0, 0, 0]))]
        empty = len(rect) == 4 and rect[0] == rect[2] and rect[1] == rect[3]
        if subtype not in NO_APPEARANCE_NEEDED and not empty and "/AP" not in annot:
            raise NotPdfa(f"a {subtype.lstrip('/')} annotation has no appearance")


def _fix_action(action: object) -> bool:
    """Whether this action may stay (PDF/A forbids some, and named actions but four)."""
    if not isinstance(action, Dictionary):
        return True
    kind = str(action.get("/S"))
    if kind == "/Named":
        return str(action.get("/N")) in ALLOWED_NAMED
    return kind not in FORBIDDEN_ACTIONS


def _fixes(pdf: pikepdf.Pdf) -> None:
    for obj in pdf.objects:
        if not isinstance(obj, Dictionary):
            continue
        if "/A" in obj and not _fix_action(obj.get("/A")):
            del obj["/A"]
        if "/Next" in obj and "/S" in obj and not _fix_action(obj.get("/Next")):
            del obj["/Next"]
        if str(obj.get("/Subtype")) == "/Image":
            for key in ("/Alternates", "/OPI"):
                if key in obj:
                    del obj[key]
            if obj.get("/Interpolate") is not None:
                obj["/Interpolate"] = False
    for annot in _annotations(pdf):
        if str(annot.get("/Subtype")) != "/Popup":
            annot["/F"] = (int(annot.get("/F", 0)) | PRINT) & ~HIDDEN_FLAGS
    form = pdf.Root.get("/AcroForm")
    if isinstance(form, Dictionary) and "/NeedAppearances" in form:
        del form["/NeedAppearances"]
    _name_optional_content(pdf)


def _name_optional_content(pdf: pikepdf.Pdf) -> None:
    props = pdf.Root.get("/OCProperties")
    if not isinstance(props, Dictionary):
        return
    configs = [props.get("/D"), *props.get("/Configs", Array())]
    for index, config in enumerate(c for c in configs if isinstance(c, Dictionary)):
        if "/Name" not in config:
            config["/Name"] = pikepdf.String(f"Layers {index + 1}")
        if "/AS" in config:
            del config["/AS"]


def _output_intent(pdf: pikepdf.Pdf) -> None:
    intents = pdf.Root.get("/OutputIntents")
    if isinstance(intents, Array) and any(
        str(i.get("/S")) == "/GTS_PDFA1" and "/DestOutputProfile" in i for i in intents
    ):
        return
    profile = pdf.make_stream(srgb_icc())
    profile["/N"] = 3
    intent = Dictionary(
        Type=Name.OutputIntent,
        S=Name.GTS_PDFA1,
        OutputConditionIdentifier=pikepdf.String("sRGB IEC61966-2.1"),
        Info=pikepdf.String("sRGB IEC61966-2.1"),
        DestOutputProfile=profile,
    )
    pdf.Root["/OutputIntents"] = pdf.make_indirect(Array([intent]))


def _claim(pdf: pikepdf.Pdf, *, pdfa: bool) -> None:
    """Write (or, for a document that is not PDF/A, remove) the XMP PDF/A identification."""
    has_metadata = "/Metadata" in pdf.Root
    if not pdfa and not has_metadata:
        return
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        if pdfa:
            meta["pdfaid:part"] = "2"
            meta["pdfaid:conformance"] = "B"
        else:
            for key in ("pdfaid:part", "pdfaid:conformance", "pdfaid:amd", "pdfaid:rev"):
                if key in meta:
                    del meta[key]


def to_pdfa(pdf: pikepdf.Pdf) -> str | None:
    """Make the open document PDF/A-2b in place; None when done, else why not (and no claim)."""
    try:
        blockers(pdf)
        _fixes(pdf)
        _output_intent(pdf)
    except NotPdfa as exc:
        _claim(pdf, pdfa=False)
        return str(exc)
    except (pikepdf.PdfError, ValueError, TypeError, AttributeError, KeyError):
        _claim(pdf, pdfa=False)
        return "the document's structure could not be checked for PDF/A"
    _claim(pdf, pdfa=True)
    return None


def save(pdf: pikepdf.Pdf) -> bytes:
    """qpdf writes it anew: fresh cross-reference table, trailer ID, LZW re-encoded as Flate."""
    out = io.BytesIO()
    pdf.save(
        out,
        fix_metadata_version=True,
        compress_streams=True,
        stream_decode_level=pikepdf.StreamDecodeLevel.generalized,
    )
    return out.getvalue()

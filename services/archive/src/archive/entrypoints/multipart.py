"""A streaming `multipart/form-data` reader with limits enforced while bytes arrive.

Rules: a `Content-Length` above the limit is refused before the body is read; otherwise the
body is parsed as it streams and refused (413) the moment the file passes `max_file_bytes`, so
a 2 GB upload is never buffered; exactly one file part (`file`) is accepted; text fields are
small (≤ 256 bytes each, ≤ 16 of them); anything else is a 422 problem.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header

from archive.domain.errors import InvalidUpload, PayloadTooLarge

FIELD_BYTES = 256
MAX_FIELDS = 16
FORM_OVERHEAD = 64 * 1024


@dataclass
class Upload:
    filename: str | None = None
    content_type: str | None = None
    content: bytearray = field(default_factory=bytearray)
    fields: dict[str, str] = field(default_factory=dict)
    has_file: bool = False


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)
    is_file: bool = False


class _Reader:
    def __init__(self, max_file_bytes: int) -> None:
        self.max = max_file_bytes
        self.upload = Upload()
        self.part = _Part()
        self._header_field = b""
        self._header_value = b""

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        name = self._header_field.decode("latin-1").lower()
        self.part.headers[name] = self._header_value.decode("utf-8", "replace")
        self._header_field = self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.part.headers.get("content-disposition", ""))
        self.part.name = options.get(b"name", b"").decode("utf-8", "replace")
        raw_name = options.get(b"filename")
        self.part.filename = raw_name.decode("utf-8", "replace") if raw_name is not None else None
        self.part.is_file = raw_name is not None
        if self.part.is_file:
            if self.upload.has_file or self.part.name != "file":
                raise InvalidUpload("send exactly one file, in the form field 'file'")
            self.upload.has_file = True
            self.upload.filename = self.part.filename
            self.upload.content_type = self.part.headers.get("content-type")
        elif len(self.upload.fields) >= MAX_FIELDS:
            raise InvalidUpload("too many form fields")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.is_file:
            if len(self.upload.content) + (end - start) > self.max:
                raise PayloadTooLarge(f"the file is larger than {self.max} bytes", limit=self.max)
            self.upload.content += data[start:end]
        else:
            self.part.data += data[start:end]
            if len(self.part.data) > FIELD_BYTES:
                raise InvalidUpload(f"the form field '{self.part.name[:32]}' is too long")

    def on_part_end(self) -> None:
        if not self.part.is_file:
            try:
                self.upload.fields[self.part.name] = self.part.data.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidUpload("form fields must be UTF-8 text") from None


async def read_upload(
    content_type: str | None,
    content_length: str | None,
    body: AsyncIterator[bytes],
    max_file_bytes: int,
) -> Upload:
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidUpload("send the receipt as multipart/form-data with a 'file' part")
    declared = int(content_length) if content_length and content_length.isdigit() else 0
    if declared > max_file_bytes + FORM_OVERHEAD:
        raise PayloadTooLarge(
            f"the file is larger than {max_file_bytes} bytes", limit=max_file_bytes
        )
    reader = _Reader(max_file_bytes)
    callbacks = {
        name: getattr(reader, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
        )
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in body:
            parser.write(chunk)
        parser.finalize()
    except (InvalidUpload, PayloadTooLarge):
        raise
    except Exception:
        raise InvalidUpload("the multipart body is malformed") from None
    if not reader.upload.has_file:
        raise InvalidUpload("send exactly one file, in the form field 'file'")
    return reader.upload

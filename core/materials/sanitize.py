"""What a file is, judged from its bytes, and a clean copy of it.

The type is sniffed from the first bytes (a few fixed signatures: JPEG, PNG, WebP, PDF),
never taken from the name or the Content-Type the client sent. No libmagic: the four
accepted types have exact signatures, and a small sniff has no system library to keep in
step with; what a file claims is then checked by actually decoding it (Pillow for images,
a structural read for PDFs).

- Images are decoded by Pillow and re-encoded from their pixels: EXIF (GPS, camera,
  time), XMP, ICC profiles, comments and any appended bytes are gone. The EXIF
  orientation is applied first, so the photo stays upright. An image with more pixels
  than ``max_image_pixels`` is refused before it is decoded (decompression bombs).
- PDFs are not rewritten; they are read for active content (JavaScript, embedded files,
  launch actions, XFA forms, rich media), also inside compressed object streams and
  with ``#xx``-escaped names, and refused when they carry any, or when they are
  encrypted (nothing inside could be checked).
- Polyglots (a file that is also another format: a ZIP, HTML or script, an executable,
  or a PDF inside an image) are refused.
"""

from __future__ import annotations

import io
import re
import warnings
import zlib
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from core.materials.errors import Refused
from core.materials.settings import MaterialsSettings

# kind → (content type, file extension)
KINDS: dict[str, tuple[str, str]] = {
    "jpeg": ("image/jpeg", "jpg"),
    "png": ("image/png", "png"),
    "webp": ("image/webp", "webp"),
    "pdf": ("application/pdf", "pdf"),
}
_PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}

# Signatures of other formats that must not hide in an accepted file (case-insensitive
# for the text ones). Short binary signatures are only looked for where they work: a ZIP
# is read from its end record, an executable from its start.
_TEXT_MARKERS = (b"<script", b"<html", b"<!doctype html", b"<?php", b"<svg", b"<iframe",
                 b"javascript:")
_PDF_MARKER = b"%PDF-"
_ZIP_END = b"PK\x05\x06"
_ZIP_LOCAL = b"PK\x03\x04"
_EXECUTABLES = (b"\x7fELF", b"MZ")
# PDF names that make a document act on its own: scripts, attachments, launching
# programs, opening another (maybe remote, UNC) file, forms that submit or import, rich
# media.
_ACTIVE_PDF_NAMES = frozenset({
    "JavaScript", "JS", "EmbeddedFile", "EmbeddedFiles", "Launch", "RichMedia", "XFA",
    "SubmitForm", "ImportData", "GoToE", "GoToR", "Sound", "Movie",
})
_PDF_NAME = re.compile(rb"/((?:[A-Za-z0-9_.+\-]|#[0-9A-Fa-f]{2})+)")
_PDF_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.DOTALL)


@dataclass(frozen=True)
class Sanitized:
    kind: str  # jpeg / png / webp / pdf
    data: bytes  # what is stored: re-encoded image, or the checked PDF as it came

    @property
    def content_type(self) -> str:
        return KINDS[self.kind][0]

    @property
    def extension(self) -> str:
        return KINDS[self.kind][1]


def sniff(data: bytes) -> str | None:
    """The kind of ``data`` by its signature, or None when it is none of the four."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(_PDF_MARKER):
        return "pdf"
    return None


def check_size(size: int, settings: MaterialsSettings) -> None:
    if size <= 0:
        raise Refused("empty")
    if size > settings.max_file_bytes:
        raise Refused("too_large")


def sanitize(data: bytes, settings: MaterialsSettings) -> Sanitized:
    """A clean copy of ``data``; raises ``Refused`` with the reason otherwise."""
    check_size(len(data), settings)
    kind = sniff(data)
    if kind is None:
        raise Refused("wrong_type")
    polyglot = foreign_format(data, kind)
    if polyglot:
        raise Refused("unsafe", f"polyglot: {kind} file also carries {polyglot}")
    if kind == "pdf":
        _check_pdf(data, settings)
        return Sanitized("pdf", data)
    return Sanitized(kind, _reencode(data, kind, settings))


def foreign_format(data: bytes, kind: str) -> str | None:
    """The other format ``data`` also is (a polyglot), or None."""
    lowered = data.lower()
    for marker in _TEXT_MARKERS:
        if marker in lowered:
            return marker.decode("ascii")
    if kind != "pdf" and _PDF_MARKER in data:
        return "a PDF"
    # A ZIP (also jar, docx, apk) is read from the end-of-central-directory record,
    # within the last 64 KB; a local header right after an image's end is one too.
    if _ZIP_END in data[-(65_535 + 22):]:
        return "a ZIP archive"
    if kind != "pdf" and _ZIP_LOCAL in data[-(65_535 + 22):] and _ZIP_LOCAL in data[:1024]:
        return "a ZIP archive"
    for marker in _EXECUTABLES:
        if data.startswith(marker):
            return "an executable"
    return None


# --- images ---------------------------------------------------------------------------------
def _reencode(data: bytes, kind: str, settings: MaterialsSettings) -> bytes:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[kind]])
            width, height = image.size
            if width * height > settings.max_image_pixels:
                raise Refused("unsafe", f"image of {width}x{height} pixels")
            image.load()
            image = ImageOps.exif_transpose(image)  # upright, then the EXIF goes
    except Refused:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise Refused("unreadable", f"{kind}: {type(error).__name__}: {error}") from None
    if max(image.size) > settings.max_image_side:
        image.thumbnail((settings.max_image_side, settings.max_image_side))
    if kind == "jpeg":
        mode = "RGB"
    elif kind == "png":
        mode = "RGBA" if image.mode in ("RGBA", "LA", "P", "PA") else "RGB"
    else:
        mode = "RGBA" if "A" in image.mode or image.mode == "P" else "RGB"
    pixels = image.convert(mode)
    # Pillow writes what ``info`` still holds (a JPEG's comment, an ICC profile, EXIF,
    # XMP) unless told otherwise: only the pixels go out.
    pixels.info = {}
    out = io.BytesIO()
    if kind == "jpeg":
        pixels.save(out, "JPEG", quality=90, optimize=True)
    elif kind == "png":
        pixels.save(out, "PNG", optimize=True)
    else:
        pixels.save(out, "WEBP", quality=90)
    return out.getvalue()


# --- PDFs -----------------------------------------------------------------------------------
def _names(chunk: bytes) -> set[str]:
    names = set()
    for match in _PDF_NAME.finditer(chunk):
        raw = match.group(1)
        # /J#61vaScript is /JavaScript.
        decoded = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)
        names.add(decoded.decode("latin-1"))
    return names


def _inflated_streams(data: bytes, budget: int) -> list[bytes]:
    """Every stream that inflates (FlateDecode), at most ``budget`` bytes in all."""
    out: list[bytes] = []
    for match in _PDF_STREAM.finditer(data):
        raw = match.group(1)
        try:
            inflater = zlib.decompressobj()
            chunk = inflater.decompress(raw, budget + 1)
        except zlib.error:
            continue  # not deflated (images, plain text): read as it is already
        budget -= len(chunk)
        if budget < 0:
            raise Refused("unsafe", "pdf: streams inflate beyond the limit")
        out.append(chunk)
    return out


def _check_pdf(data: bytes, settings: MaterialsSettings) -> None:
    if b"%%EOF" not in data[-2048:]:
        raise Refused("unreadable", "pdf: no %%EOF trailer")
    chunks = [data, *_inflated_streams(data, budget=8 * settings.max_file_bytes)]
    names: set[str] = set()
    for chunk in chunks:
        names |= _names(chunk)
    if "Encrypt" in names:
        raise Refused("pdf_active", "pdf: encrypted, its content cannot be checked")
    active = sorted(names & _ACTIVE_PDF_NAMES)
    if active:
        raise Refused("pdf_active", f"pdf: active content {', '.join(active)}")
    for chunk in chunks[1:]:
        polyglot = foreign_format(chunk, "pdf")
        if polyglot and polyglot != "a ZIP archive":
            raise Refused("unsafe", f"pdf: a stream carries {polyglot}")

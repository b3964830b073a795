"""The sanitizer alone: types sniffed from the bytes, metadata gone, limits, PDFs with
active content and polyglots refused (no scanner, no database)."""

from __future__ import annotations

import io
import zipfile
import zlib

import pytest
from PIL import Image

from core.materials import MaterialsSettings, Refused, sanitize, sniff
from core.materials.errors import message_for
from tests.materials.conftest import gps_jpeg, pdf, png


def refusal(data: bytes, settings: MaterialsSettings) -> Refused:
    with pytest.raises(Refused) as caught:
        sanitize(data, settings)
    return caught.value


def test_exif_with_gps_is_gone_after_sanitizing(settings: MaterialsSettings) -> None:
    original = gps_jpeg()
    before = Image.open(io.BytesIO(original))
    assert before.getexif().get_ifd(0x8825)  # the test file really has a GPS position
    assert b"Merchant Phone X" in original and b"shot at the shop" in original

    clean = sanitize(original, settings)

    assert clean.kind == "jpeg" and clean.content_type == "image/jpeg"
    after = Image.open(io.BytesIO(clean.data))
    assert after.format == "JPEG" and after.size == before.size
    assert not after.getexif()  # no EXIF at all, so no GPS
    assert "exif" not in after.info and "comment" not in after.info
    assert b"Exif" not in clean.data and b"Merchant Phone X" not in clean.data
    assert b"shot at the shop" not in clean.data


def test_exif_orientation_is_applied_before_it_goes(settings: MaterialsSettings) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    out = io.BytesIO()
    Image.new("RGB", (60, 20), "white").save(out, "JPEG", exif=exif.tobytes())
    clean = Image.open(io.BytesIO(sanitize(out.getvalue(), settings).data))
    assert clean.size == (20, 60) and not clean.getexif()


def test_png_text_chunks_are_gone(settings: MaterialsSettings) -> None:
    clean = sanitize(png(text={"Author": "张三 13800000003"}), settings)
    assert clean.kind == "png"
    assert "Author" not in Image.open(io.BytesIO(clean.data)).info
    assert b"13800000003" not in clean.data


def test_webp_is_accepted_and_re_encoded(settings: MaterialsSettings) -> None:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "green").save(out, "WEBP", exif=Image.Exif().tobytes())
    clean = sanitize(out.getvalue(), settings)
    assert clean.kind == "webp" and Image.open(io.BytesIO(clean.data)).format == "WEBP"


@pytest.mark.parametrize("data", [
    b"GIF89a" + b"\x00" * 64,  # an image type we do not take
    b"MZ\x90\x00" + b"\x00" * 64,  # a Windows executable named licence.jpg
    "营业执照 号码 1234".encode(),  # text
    b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
    b"PK\x03\x04" + b"\x00" * 64,  # a ZIP / docx
])
def test_wrong_types_are_refused_whatever_they_are_called(
        data: bytes, settings: MaterialsSettings) -> None:
    assert sniff(data) is None
    assert refusal(data, settings).reason == "wrong_type"
    assert message_for("wrong_type").startswith("只支持图片和PDF")


def test_a_gif_renamed_to_png_is_still_a_gif(settings: MaterialsSettings) -> None:
    out = io.BytesIO()
    Image.new("P", (8, 8)).save(out, "GIF")
    assert refusal(out.getvalue(), settings).reason == "wrong_type"


def test_oversized_files_are_refused(settings: MaterialsSettings) -> None:
    big = gps_jpeg() + b"\x00" * settings.max_file_bytes
    error = refusal(big, settings)
    assert error.reason == "too_large"
    assert message_for("too_large", settings.max_file_bytes).startswith("文件太大")
    assert refusal(b"", settings).reason == "empty"


def test_decompression_bombs_are_refused_before_decoding(settings: MaterialsSettings) -> None:
    small = MaterialsSettings(storage_dir=settings.storage_dir, max_image_pixels=10_000)
    assert refusal(png(size=(200, 200)), small).reason == "unsafe"


def test_a_truncated_image_is_refused_as_unreadable(settings: MaterialsSettings) -> None:
    assert refusal(gps_jpeg((400, 300))[:300], settings).reason == "unreadable"


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.html", "<b>hi</b>")
    return out.getvalue()


@pytest.mark.parametrize("polyglot", [
    pytest.param(gps_jpeg() + zip_bytes(), id="jpeg+zip"),
    pytest.param(png() + b"<script>fetch('//evil')</script>", id="png+script"),
    pytest.param(gps_jpeg() + pdf(), id="jpeg+pdf"),
    pytest.param(pdf() + zip_bytes(), id="pdf+zip"),
    pytest.param(pdf(body=b"<html><body onload=alert(1)>"), id="pdf+html"),
])
def test_polyglots_are_refused(polyglot: bytes, settings: MaterialsSettings) -> None:
    error = refusal(polyglot, settings)
    assert error.reason == "unsafe", error
    assert message_for(error.reason).startswith("文件没通过安全检查")


def test_a_plain_pdf_is_accepted_as_it_is(settings: MaterialsSettings) -> None:
    document = pdf()
    clean = sanitize(document, settings)
    assert clean.kind == "pdf" and clean.data == document


def _flate_object(content: bytes) -> bytes:
    packed = zlib.compress(content)
    return (b"5 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length "
            + str(len(packed)).encode() + b" >>\nstream\n" + packed + b"\nendstream\nendobj\n")


@pytest.mark.parametrize("document", [
    pytest.param(pdf(catalog_extra=b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >> "),
                 id="javascript"),
    pytest.param(pdf(catalog_extra=b"/OpenAction << /S /J#61vaScript /J#53 (x) >> "),
                 id="escaped-name"),
    pytest.param(pdf(extra_objects=_flate_object(b"6 0 << /S /JavaScript /JS (x) >>")),
                 id="inside-compressed-object-stream"),
    pytest.param(pdf(catalog_extra=b"/Names << /EmbeddedFiles << /Names [(a.exe) 7 0 R] >> >> "),
                 id="embedded-file"),
    pytest.param(pdf(catalog_extra=b"/OpenAction << /S /Launch /F (cmd.exe) >> "), id="launch"),
    pytest.param(pdf(catalog_extra=b"/OpenAction << /S /GoToR /F (\\\\host\\share\\a.pdf) >> "),
                 id="remote-goto"),
    pytest.param(pdf(catalog_extra=b"/Encrypt 9 0 R "), id="encrypted"),
])
def test_pdfs_with_active_content_are_refused_politely(
        document: bytes, settings: MaterialsSettings) -> None:
    error = refusal(document, settings)
    assert error.reason == "pdf_active", error
    assert message_for(error.reason).startswith("文件没通过安全检查")


def test_a_pdf_without_its_end_is_unreadable(settings: MaterialsSettings) -> None:
    assert refusal(pdf()[:200], settings).reason == "unreadable"


def test_a_file_name_cannot_hide_its_extension_with_bidi_overrides() -> None:
    from core.materials.pipeline import clean_name

    assert clean_name("\u202egnp.exe", "png") == "gnp.exe"  # shown as typed, no reversal
    assert clean_name("营业执照\u2067.png", "png") == "营业执照.png"

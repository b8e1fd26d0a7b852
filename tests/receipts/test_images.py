"""Upload checks by content: size, pixel bombs, non-images named .jpg, HEIC, EXIF rotation, transparency."""

import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from loyalty.receipts import images
from loyalty.receipts.errors import ReceiptImageInvalid
from loyalty.receipts.images import image_normalise


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose header claims width × height pixels (the data would never fit)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        chunk(b"IEND", b"")


def encoded(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def detail(upload) -> str:
    with pytest.raises(ReceiptImageInvalid) as raised:
        image_normalise(upload)
    return raised.value.code_detail


def test_a_file_over_10_mb_is_refused_before_it_is_decoded():
    big = SimpleUploadedFile("r.jpg", b"\xff\xd8" + b"0" * (images.MAX_UPLOAD_BYTES + 10), content_type="image/jpeg")
    assert detail(big) == "too_large"
    assert detail(b"\xff\xd8" + b"0" * (images.MAX_UPLOAD_BYTES + 10)) == "too_large"


def test_a_png_header_claiming_30000_by_30000_pixels_is_refused_without_decoding():
    assert detail(SimpleUploadedFile("bomb.png", png_bomb(), content_type="image/png")) == "too_many_pixels"


def test_a_text_file_named_jpg_is_not_an_image():
    fake = SimpleUploadedFile("receipt.jpg", "รวม 1,250.00\n".encode() * 50, content_type="image/jpeg")
    assert detail(fake) == "not_an_image"


def test_a_truncated_jpeg_and_a_gif_are_refused():
    jpeg = encoded(Image.new("RGB", (400, 600), "white"), "JPEG")
    assert detail(jpeg[: len(jpeg) // 2]) == "not_an_image"
    assert detail(encoded(Image.new("RGB", (40, 40), "white"), "GIF")) == "format"
    assert detail(b"") == "empty" and detail(None) == "empty"


def test_the_refusal_says_what_to_do():
    with pytest.raises(ReceiptImageInvalid) as raised:
        image_normalise(png_bomb())
    assert "40 megapixels" in str(raised.value.message)


@pytest.mark.parametrize("format", ["PNG", "WEBP", "HEIF"])
def test_png_webp_and_heic_become_an_rgb_jpeg(format):
    if format == "HEIF":
        from pillow_heif import from_pillow

        buffer = io.BytesIO()
        from_pillow(Image.new("RGB", (300, 500), (250, 250, 250))).save(buffer, quality=80)
        data = buffer.getvalue()
    else:
        data = encoded(Image.new("RGB", (300, 500), (250, 250, 250)), format)
    result = image_normalise(SimpleUploadedFile("photo.bin", data))
    stored = Image.open(io.BytesIO(result.jpeg))
    assert (stored.format, stored.mode, stored.size) == ("JPEG", "RGB", (300, 500))
    assert len(result.sha256) == 64 and len(result.phash) == 16


def test_exif_rotation_is_applied_and_exif_is_dropped():
    portrait = Image.new("RGB", (600, 400), "white")
    exif = portrait.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif[0x010F] = "PhoneMaker"
    result = image_normalise(encoded(portrait, "JPEG", exif=exif))
    stored = Image.open(io.BytesIO(result.jpeg))
    assert stored.size == (400, 600)
    assert 0x010F not in stored.getexif()


def test_transparency_is_flattened_on_white_and_huge_photos_are_scaled_down():
    clear = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    stored = Image.open(io.BytesIO(image_normalise(encoded(clear, "PNG")).jpeg))
    assert stored.getpixel((100, 100)) >= (250, 250, 250)
    huge = image_normalise(encoded(Image.new("RGB", (6000, 4000), "white"), "JPEG", quality=50))
    assert (huge.width, huge.height) == (images.MAX_SIDE, images.MAX_SIDE * 2 // 3)

"""Checking and normalising an uploaded receipt image before anything is stored.

- Size: at most ``MAX_UPLOAD_BYTES``; read with a cap, so a lying Content-Length cannot
  make the server read more.
- Type by content: Pillow must recognise it as JPEG, PNG, WEBP or HEIC/HEIF (HEIF through
  pillow-heif's opener); the file name and the browser's content type are ignored.
- Pixel count: the header's width × height at most ``MAX_PIXELS`` (checked before any
  decoding, so a 30000 × 30000 "bomb" is refused without allocating it); Pillow's own
  decompression-bomb guard is turned into an error too.
- Normalised: EXIF orientation applied, converted to RGB (transparency on white), at most
  ``MAX_SIDE`` pixels on the long side, re-encoded as JPEG. The stored file is that JPEG;
  whatever else the upload carried (EXIF location, other frames) is dropped.
"""

import hashlib
import io
import warnings
from dataclasses import dataclass

import imagehash
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from .errors import ReceiptImageInvalid

register_heif_opener()

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 3200
ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "HEIF"}
JPEG_QUALITY = 88

TOO_LARGE = _("The photo is larger than 10 MB. Please take it again or choose a smaller one.")
NOT_AN_IMAGE = _("This file is not a photo we can read. Please upload a JPEG, PNG, HEIC or WEBP image.")
TOO_MANY_PIXELS = _("The photo has too many pixels (more than 40 megapixels). Please choose a smaller one.")
EMPTY = _("Choose a photo of your receipt first.")


@dataclass(frozen=True)
class NormalisedImage:
    jpeg: bytes
    width: int
    height: int
    sha256: str   # of the bytes as uploaded
    phash: str    # imagehash.phash, 16 hex digits


def read_capped(upload) -> bytes:
    """At most ``MAX_UPLOAD_BYTES`` + 1 bytes of an uploaded file (Django ``UploadedFile`` or bytes)."""
    if isinstance(upload, bytes | bytearray):
        return bytes(upload[:MAX_UPLOAD_BYTES + 1])
    if getattr(upload, "size", 0) and upload.size > MAX_UPLOAD_BYTES:
        raise ReceiptImageInvalid(TOO_LARGE, code_detail="too_large")
    upload.seek(0)
    return upload.read(MAX_UPLOAD_BYTES + 1)


def image_normalise(upload) -> NormalisedImage:
    """The upload checked and re-encoded; raises ``ReceiptImageInvalid`` (nothing else) for bad input."""
    if upload is None:
        raise ReceiptImageInvalid(EMPTY, code_detail="empty")
    data = read_capped(upload)
    if not data:
        raise ReceiptImageInvalid(EMPTY, code_detail="empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ReceiptImageInvalid(TOO_LARGE, code_detail="too_large")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            _check_header(data)
            image = _decode(data)
        except ReceiptImageInvalid:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise ReceiptImageInvalid(TOO_MANY_PIXELS, code_detail="too_many_pixels") from error
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as error:
            raise ReceiptImageInvalid(NOT_AN_IMAGE, code_detail="not_an_image") from error
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return NormalisedImage(jpeg=buffer.getvalue(), width=image.width, height=image.height,
                           sha256=hashlib.sha256(data).hexdigest(), phash=str(imagehash.phash(image)))


def _check_header(data: bytes) -> None:
    """Format and dimensions from the header alone, then Pillow's structural ``verify``."""
    with Image.open(io.BytesIO(data)) as probe:
        if probe.format not in ALLOWED_FORMATS:
            raise ReceiptImageInvalid(NOT_AN_IMAGE, code_detail="format")
        width, height = probe.size
        if width < 1 or height < 1:
            raise ReceiptImageInvalid(NOT_AN_IMAGE, code_detail="not_an_image")
        if width * height > MAX_PIXELS:
            raise ReceiptImageInvalid(TOO_MANY_PIXELS, code_detail="too_many_pixels")
        probe.verify()


def _decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        image = ImageOps.exif_transpose(opened)
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            flattened = Image.new("RGB", rgba.size, "white")
            flattened.paste(rgba, mask=rgba.getchannel("A"))
            image = flattened
        else:
            image = image.convert("RGB")
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return image

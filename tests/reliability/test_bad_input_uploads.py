"""Malformed and oversized receipt uploads through the member portal (the real view, a real
LIFF session): each gets a clear error page with a 400, never a 5xx, and stores nothing: no
receipt row, no file under MEDIA_ROOT, nothing queued.

(tests/receipts covers the image checks one by one, and at the portal a text file named
.jpg, a pixel bomb and a file over 10 MB; these add the remaining shapes of bad input.)
"""

import io
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from loyalty.receipts.models import Receipt, ReceiptRule
from members.models import Member
from tests import factories
from tests.liff.conftest import liff_login
from tests.receipts.test_images import png_bomb

LOGIN_CHANNEL = "1650000999"
USER = "U" + "9" * 32


def encoded(image: Image.Image, format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


JPEG = encoded(Image.new("RGB", (400, 600), "white"), "JPEG")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def brand(db, fake_line):
    brand = factories.brand_with_program(slug="uploads", name="Uploads")
    brand.line_login_channel_id = LOGIN_CHANNEL
    brand.save()
    ReceiptRule.objects.create(brand=brand, auto_approve=False)
    return brand


@pytest.fixture
def member_client(brand, fake_line):
    client = Client(raise_request_exception=False)
    fake_line.add_user(USER)
    member = liff_login(client, fake_line, brand, USER)
    Member.objects.filter(pk=member.pk).update(status=Member.Status.ACTIVE, language="en")
    return client


def assert_refused_and_nothing_stored(response, settings, text: str = ""):
    assert response.status_code == 400, (response.status_code, response.content[:300])
    if text:
        assert text in response.content.decode()
    assert not Receipt.objects.exists()
    media = settings.MEDIA_ROOT
    assert not media.exists() or not any(path.is_file() for path in media.rglob("*"))


BAD_FILES = {
    "zero-bytes": (b"", "receipt.jpg", "Choose a photo"),
    "truncated-jpeg": (JPEG[: len(JPEG) // 3], "receipt.jpg", "not a photo we can read"),
    "jpeg-header-only": (b"\xff\xd8\xff\xe0" + b"\x00" * 32, "receipt.jpg", "not a photo we can read"),
    "html-named-jpg": (b"<html><script>alert(1)</script></html>", "receipt.jpg", "not a photo we can read"),
    "svg-named-png": (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "r.png",
                      "not a photo we can read"),
    "gif": (encoded(Image.new("RGB", (40, 40), "white"), "GIF"), "receipt.gif", "JPEG, PNG, HEIC or WEBP"),
    "bomb-100000x100000": (png_bomb(100_000, 100_000), "bomb.png", "too many pixels"),
    "over-10-mb": (b"\xff\xd8" + b"\x00" * (10 * 1024 * 1024 + 1), "big.jpg", "larger than 10 MB"),
}


@pytest.mark.parametrize(("data", "name", "text"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_file_is_a_clear_400_and_stores_nothing(member_client, brand, settings, data, name, text):
    response = member_client.post(f"/liff/{brand.slug}/receipts/", {
        "upload_key": str(uuid.uuid4()), "image": SimpleUploadedFile(name, data, content_type="image/jpeg")})
    assert_refused_and_nothing_stored(response, settings, text)


def test_no_file_at_all_is_a_clear_400(member_client, brand, settings):
    response = member_client.post(f"/liff/{brand.slug}/receipts/", {"upload_key": str(uuid.uuid4())})
    assert_refused_and_nothing_stored(response, settings, "Choose a photo")


@pytest.mark.parametrize("upload_key", ["", "not-a-uuid", "x" * 5000, "' OR 1=1 --"])
def test_a_missing_or_forged_form_key_is_a_400_and_stores_nothing(member_client, brand, settings, upload_key):
    response = member_client.post(f"/liff/{brand.slug}/receipts/", {
        "upload_key": upload_key, "image": SimpleUploadedFile("r.jpg", JPEG, content_type="image/jpeg")})
    assert_refused_and_nothing_stored(response, settings, "reload the page")


def test_form_fields_over_the_request_limit_are_refused(member_client, brand, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    response = member_client.post(f"/liff/{brand.slug}/receipts/", {
        "upload_key": "x" * (70 * 1024), "image": SimpleUploadedFile("r.jpg", JPEG, content_type="image/jpeg")})
    assert_refused_and_nothing_stored(response, settings)


def test_without_a_member_session_nothing_is_stored(brand, settings):
    response = Client(raise_request_exception=False).post(f"/liff/{brand.slug}/receipts/", {
        "upload_key": str(uuid.uuid4()), "image": SimpleUploadedFile("r.jpg", JPEG, content_type="image/jpeg")})
    assert response.status_code in (200, 401, 403)  # the LIFF sign-in page, never an upload
    assert not Receipt.objects.exists()

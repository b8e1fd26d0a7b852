"""Receipts: a brand with known stores and a rule, members signed in to the portal, real Tesseract.

OCR results are memoised per image (by content) for the session: the same rendered
receipt used by several tests is read by Tesseract once, not mocked.
"""

import hashlib
from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.receipts import ocr as ocr_module
from loyalty.receipts.models import ReceiptRule, ReceiptStore
from loyalty.receipts.samples import STORES, SampleReceipt, encode, render
from members.models import Member
from tests import factories
from tests.liff.conftest import liff_login

TOKEN = "receipts-channel-access-token"
LOGIN_CHANNEL = "1650000555"
_OCR_CACHE: dict[str, object] = {}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _ocr_memo(monkeypatch):
    real = ocr_module.ocr_image

    def remembered(image):
        key = hashlib.sha256(image.convert("RGB").tobytes() + repr(image.size).encode()).hexdigest()
        if key not in _OCR_CACHE:
            _OCR_CACHE[key] = real(image)
        return _OCR_CACHE[key]

    monkeypatch.setattr(ocr_module, "ocr_image", remembered)


@pytest.fixture
def receipt_brand(db, fake_line):
    brand = factories.brand_with_program(slug="receipt-cafe", name="Receipt Cafe")
    brand.line_login_channel_id = LOGIN_CHANNEL
    brand.line_channel_access_token = TOKEN
    brand.save()
    fake_line.add_channel(TOKEN, login_channel_id=LOGIN_CHANNEL)
    siam = factories.BranchFactory(brand=brand, code="SIAM", name="Siam")
    ari = factories.BranchFactory(brand=brand, code="ARI", name="Ari")
    for index, (name, _second) in enumerate(STORES):
        ReceiptStore.objects.create(brand=brand, name=name, branch={0: siam, 1: ari}.get(index),
                                    aliases="Taem Cafe Siam" if index == 0 else "")
    ReceiptRule.objects.create(brand=brand, auto_approve=True, min_confidence=70, max_total=Decimal("5000"),
                               max_age_days=7, max_auto_approved_per_day=3)
    return brand


def _active(member: Member, **changes) -> Member:
    Member.objects.filter(pk=member.pk).update(status=Member.Status.ACTIVE, line_reachable=True, language="en",
                                               registered_at=timezone.now(), first_name="Nok", **changes)
    member.refresh_from_db()
    return member


@pytest.fixture
def shopper(client, fake_line, receipt_brand):
    """An active member signed in to the portal with the Django test client."""
    fake_line.add_user("U" + "5" * 32)
    return _active(liff_login(client, fake_line, receipt_brand, "U" + "5" * 32))


@pytest.fixture
def other_shopper(fake_line, receipt_brand):
    fake_line.add_user("U" + "6" * 32)
    return _active(factories.MemberFactory(brand=receipt_brand, line_user_id="U" + "6" * 32))


def receipt(*, store: str = STORES[0][0], number: str = "000123", total: str = "1250.00",
            day: date | None = None, date_text: str | None = None, total_label: str = "รวม",
            font: str = "Garuda.ttf") -> SampleReceipt:
    """A clean, well-lit receipt with the given fields (Buddhist-era date by default)."""
    day = day or timezone.localdate()
    total = Decimal(total)
    return SampleReceipt(
        store=store, store_second_line="ถนนพระราม 1 กรุงเทพฯ", number_text=f"TAX INV (ABB) เลขที่ {number}",
        number=number, date_text=date_text or f"วันที่ {day:%d/%m}/{day.year + 543} 14:22", receipt_date=day,
        total_label=total_label, total=total, items=(("ลาเต้เย็น", total),), font=font, font_size=24,
        extra_lines=(("VAT 7%", f"{total * 7 / 107:,.2f}"),),
    )


def receipt_jpeg(sample: SampleReceipt, **render_options) -> bytes:
    return encode(render(sample, **render_options), quality=90)

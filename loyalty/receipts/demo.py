"""Receipt upload for the demo brand: a rule that auto-approves, its two cafés as known stores,
and sample receipt photos to upload from the portal (idempotent)."""

from datetime import date
from decimal import Decimal
from pathlib import Path

from django.utils import timezone

from members.models import Brand

from .models import ReceiptRule, ReceiptStore
from .samples import SampleReceipt, encode, render

DEMO_STORES = (  # (printed name, aliases, branch code of members.demo)
    ("แต้มคาเฟ่ สาขาสยาม", "Taem Cafe Siam\nTaem Demo Café Siam", "BKK01"),
    ("แต้มคาเฟ่ สาขาอารีย์", "Taem Cafe Ari\nTaem Demo Café Ari", "BKK02"),
)


def receipt_demo_seed(brand: Brand) -> ReceiptRule:
    rule, _created = ReceiptRule.objects.get_or_create(brand=brand, defaults={
        "auto_approve": True, "min_confidence": 70, "max_total": Decimal("5000.00"), "max_age_days": 7})
    for name, aliases, branch_code in DEMO_STORES:
        ReceiptStore.objects.get_or_create(brand=brand, name=name, defaults={
            "aliases": aliases, "branch": brand.branches.filter(code=branch_code).first()})
    return rule


def demo_receipts(today: date | None = None) -> list[tuple[str, SampleReceipt]]:
    """(file name, receipt): one that is approved at once, one that waits for staff (unknown shop)."""
    today = today or timezone.localdate()
    be_date = f"วันที่ {today:%d/%m}/{today.year + 543} 10:15"
    stamp = f"{today:%y%m%d}"
    return [
        ("receipt-approved.jpg", SampleReceipt(
            store="แต้มคาเฟ่ สาขาสยาม", store_second_line="ถนนพระราม 1 ปทุมวัน กรุงเทพฯ",
            number_text=f"TAX INV (ABB) เลขที่ {stamp}01", number=f"{stamp}01", date_text=be_date,
            receipt_date=today, total_label="รวม", total=Decimal("1250.00"), font_size=24,
            items=(("ลาเต้เย็น", Decimal("65.00")), ("ชุดของขวัญ", Decimal("1185.00"))),
            extra_lines=(("VAT 7%", "81.78"), ("เงินสด", "1,300.00"), ("เงินทอน", "50.00")))),
        ("receipt-needs-review.jpg", SampleReceipt(
            store="ร้านขนมหวานริมทาง", store_second_line="ตลาดนัดจตุจักร",
            number_text=f"No. R{stamp}-7", number=f"R{stamp}-7", date_text=f"Date: {today.isoformat()} 16:40",
            receipt_date=today, total_label="TOTAL", total=Decimal("180.00"), font_size=24,
            items=(("ขนมชั้น", Decimal("180.00")),), extra_lines=())),
    ]


def demo_receipts_write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, sample in demo_receipts():
        path = folder / name
        path.write_bytes(encode(render(sample), quality=90))
        written.append(path)
    return written

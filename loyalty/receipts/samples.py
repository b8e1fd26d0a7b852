"""Receipt images rendered with Pillow: for the OCR accuracy tests and for trying the demo.

Each ``SampleReceipt`` knows what a perfect reader would extract (store, date, number,
total), so the tests can measure field-level accuracy of the real Tesseract pipeline.
``sample_receipts()`` is deterministic: the same seed draws the same receipts.
"""

import io
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/tlwg")
FONTS = ("Garuda.ttf", "Loma.ttf", "Kinnari.ttf", "Sawasdee.ttf", "TlwgTypo.ttf")

THAI_MONTHS_SHORT = ("ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค.")
THAI_MONTHS_FULL = ("มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน", "กรกฎาคม", "สิงหาคม",
                    "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม")
ENGLISH_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# (store name as printed, second header line); the tests register each as a ReceiptStore.
STORES = (
    ("แต้มคาเฟ่ สาขาสยาม", "ถนนพระราม 1 ปทุมวัน กรุงเทพฯ"),
    ("แต้มคาเฟ่ สาขาอารีย์", "ซอยอารีย์ 1 พญาไท กรุงเทพฯ"),
    ("ร้านข้าวมันไก่ป้าศรี", "โทร 02-123-4567"),
    ("บ้านขนมปังหอมกรุ่น", "เลขประจำตัวผู้เสียภาษี 0105561234567"),
    ("TAEM MART", "Sukhumvit 21 Bangkok"),
    ("ก๋วยเตี๋ยวเรือลุงชัย", "ตลาดนัดจตุจักร"),
    ("ชาไทยหอมหวาน", "สาขาเซ็นทรัลเวิลด์"),
    ("Green Leaf Pharmacy", "ร้านยาใบไม้เขียว"),
)

ITEMS = ("ลาเต้เย็น", "อเมริกาโน่ร้อน", "ครัวซองต์เนยสด", "ข้าวมันไก่", "น้ำเปล่า", "ชาไทยเย็น", "ขนมปังโฮลวีต",
         "Iced Mocha", "Cheesecake", "ก๋วยเตี๋ยวต้มยำ", "วิตามินซี 1000mg", "Espresso")


@dataclass(frozen=True)
class SampleReceipt:
    store: str
    store_second_line: str
    number_text: str          # the whole printed line, e.g. "TAX INV (ABB) เลขที่ 000123"
    number: str               # what should be extracted
    date_text: str            # the whole printed line
    receipt_date: date
    total_label: str
    total: Decimal
    items: tuple[tuple[str, Decimal], ...]
    font: str = "Garuda.ttf"
    font_size: int = 22
    extra_lines: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def lines(self) -> list[str | tuple[str, str]]:
        """Printed lines: a string is left-aligned; a pair is (left, right-aligned)."""
        rows: list[str | tuple[str, str]] = [self.store, self.store_second_line, self.number_text, self.date_text,
                                              "-" * 34]
        rows += [(name, money(amount)) for name, amount in self.items]
        rows.append("-" * 34)
        rows += list(self.extra_lines[:1])  # subtotal / VAT before the total
        rows.append((self.total_label, money(self.total)))
        rows += list(self.extra_lines[1:])  # cash / change after it
        rows.append("ขอบคุณที่ใช้บริการ Thank you")
        return rows


def money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def render(sample: SampleReceipt, *, width: int = 520, rotate: float = 0.0, blur: float = 0.0,
           noise: int = 0, paper: int = 255, seed: int = 0) -> Image.Image:
    """The receipt as a photo-like RGB image (slightly rotated, blurred, noisy on request)."""
    font = ImageFont.truetype(str(FONT_DIR / sample.font), sample.font_size)
    step = int(sample.font_size * 1.75)
    rows = sample.lines()
    image = Image.new("L", (width, 40 + step * len(rows)), paper)
    draw = ImageDraw.Draw(image)
    y = 20
    for row in rows:
        if isinstance(row, tuple):
            left, right = row
            draw.text((18, y), left, font=font, fill=20)
            draw.text((width - 18 - draw.textlength(right, font=font), y), right, font=font, fill=20)
        else:
            draw.text((18, y), row, font=font, fill=20)
        y += step
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    if noise:
        rng = random.Random(seed)
        pixels = image.load()
        for _ in range(image.width * image.height // 40):
            x, y = rng.randrange(image.width), rng.randrange(image.height)
            pixels[x, y] = max(0, min(255, pixels[x, y] + rng.randint(-noise, noise)))
    if rotate:
        image = image.rotate(rotate, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=paper)
    return image.convert("RGB")


def encode(image: Image.Image, format: str = "JPEG", quality: int = 88) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **({"quality": quality} if format in ("JPEG", "WEBP") else {}))
    return buffer.getvalue()


def _date_text(rng: random.Random, day: date) -> str:
    be = day.year + 543
    style = rng.randrange(8)
    time_text = f"{rng.randrange(8, 22):02d}:{rng.randrange(60):02d}"
    return [
        f"วันที่ {day:%d/%m}/{be} {time_text}",
        f"Date: {day.isoformat()} {time_text}",
        f"{day:%d-%m-%y} {time_text}",
        f"วันที่ {day:%d/%m}/{be % 100:02d} เวลา {time_text}",
        f"วันที่ {day.day} {THAI_MONTHS_SHORT[day.month - 1]} {be}",
        f"{day.day} {THAI_MONTHS_FULL[day.month - 1]} {be} {time_text}",
        f"Date {day.day:02d} {ENGLISH_MONTHS[day.month - 1]} {day.year} {time_text}",
        f"{day:%d.%m.%Y} {time_text} POS 02",
    ][style]


def _number(rng: random.Random) -> tuple[str, str]:
    digits = f"{rng.randrange(10**5, 10**6)}"
    return rng.choice([
        (f"TAX INV (ABB) เลขที่ {digits}", digits),
        (f"No. R{digits[:2]}-{digits[2:]}", f"R{digits[:2]}-{digits[2:]}"),
        (f"Receipt # {digits}", digits),
        (f"ใบเสร็จเลขที่ INV{digits}", f"INV{digits}"),
        (f"เลขที่ 00{digits}", f"00{digits}"),
    ])


def sample_receipts(count: int = 20, *, seed: int = 2568, today: date | None = None) -> list[SampleReceipt]:
    """``count`` varied receipts: stores, fonts, Gregorian/BE dates, labels and amounts."""
    rng = random.Random(seed)
    today = today or date.today()
    samples = []
    for index in range(count):
        store, second = STORES[index % len(STORES)]
        items = tuple((rng.choice(ITEMS), Decimal(rng.randrange(2000, 90000)) / 100)
                      for _ in range(rng.randrange(1, 4)))
        if index % 4 == 0:  # some big bills, to read "1,250.00"-style thousands
            items += (("ชุดของขวัญ", Decimal(rng.randrange(1000, 3000))),)
        total = sum((amount for _, amount in items), Decimal("0.00"))
        number_text, number = _number(rng)
        day = today - timedelta(days=rng.randrange(0, 5))
        label = ("รวม", "รวมทั้งสิ้น", "ยอดสุทธิ", "TOTAL", "Total", "รวมเงิน")[index % 6]
        cash = (total / 100).to_integral_value() * 100 + 100
        extras = (("VAT 7%", money((total * 7 / 107).quantize(Decimal("0.01")))),
                  ("เงินสด", money(cash)), ("เงินทอน", money(cash - total)))
        samples.append(SampleReceipt(
            store=store, store_second_line=second, number_text=number_text, number=number,
            date_text=_date_text(rng, day), receipt_date=day, total_label=label, total=total, items=items,
            font=FONTS[index % len(FONTS)], font_size=rng.choice((20, 22, 24)), extra_lines=extras,
        ))
    return samples


def photo_like(sample: SampleReceipt, index: int) -> Image.Image:
    """A deterministic mild degradation: rotation up to ±1°, blur, speckle noise, off-white paper."""
    rng = random.Random(index)
    return render(sample, rotate=rng.uniform(-1.0, 1.0), blur=rng.choice((0, 0.4, 0.7)),
                  noise=rng.choice((0, 30, 50)), paper=rng.randrange(225, 256), seed=index)

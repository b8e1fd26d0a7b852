"""Reading store, date, receipt number and total out of OCR'd receipt lines (pure functions).

``receipt_parse`` takes lines of text (with Tesseract's per-character confidence when
known) and returns the fields with a 0-100 confidence each: the lowest character
confidence of the value as read, lowered when the reading needed a guess (a fuzzy store
match, a two-digit year, a total without decimals). Nothing here touches the database,
the file system or Tesseract, so the rules are unit-tested on plain strings.

Conventions of Thai receipts that the rules follow:
- Dates are day first. A four-digit year of 2400 or more is Buddhist Era (minus 543);
  a two-digit year is whichever of 20yy and (25yy − 543) is not in the future and
  closest to today. Thai month names and abbreviations (มี.ค., มีนาคม) and English
  ones (Mar, March) are read too.
- The receipt number follows a label: เลขที่, ใบเสร็จเลขที่, No., Receipt #, TAX INV (ABB)…
- The total is the amount on the line labelled รวมทั้งสิ้น / ยอดสุทธิ / Grand total /
  Net (preferred), else รวม / ยอดรวม / รวมเงิน / Total; never a subtotal, VAT, discount,
  cash or change line. Amounts may carry thousands commas ("1,250.00").
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher

BUDDHIST_ERA_OFFSET = 543
HEADER_LINES = 6
STORE_MATCH_MINIMUM = 0.8
DISAGREEMENT_CONFIDENCE = 40
UNLABELLED_FACTOR = 0.6

# Thai digits → ASCII, and the usual OCR confusions inside numbers; one character for one (spans stay valid).
_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")


def _is_thai(ch: str) -> bool:
    return "\u0e00" <= ch <= "\u0e7f"


def fix_digits(text: str) -> str:
    """OCR look-alikes inside numbers back to digits (O→0, ]|lI→1); one character for one."""
    chars = list(text)
    for i, ch in enumerate(chars):
        if ch not in "Oo]|lI":
            continue
        before = chars[i - 1] if i else ""
        after = chars[i + 1] if i + 1 < len(chars) else ""
        digit_before = before.isdigit() or (before in ".," and i > 1 and chars[i - 2].isdigit())
        if ch in "Oo" and ((digit_before and (after.isdigit() or after in ".,")) or (before.isdigit() and not
                                                                                     after.isalpha())):
            chars[i] = "0"
        elif ch in "]|lI" and digit_before and not after.isalpha():
            chars[i] = "1"
    return "".join(chars)


@dataclass(frozen=True)
class OcrLine:
    """One line as read, with the confidence (0-100) of each character; empty = unknown (100)."""

    text: str
    confidences: tuple[float, ...] = ()

    def compact(self) -> "OcrLine":
        """Without the spaces OCR puts inside Thai words ("ส า ขา", "บ ้าน"), confidences kept aligned."""
        keep = [i for i, ch in enumerate(self.text)
                if not (ch == " " and 0 < i < len(self.text) - 1 and _is_thai(self.text[i - 1])
                        and _is_thai(self.text[i + 1]))]
        if len(keep) == len(self.text):
            return self
        confidences = tuple(self.confidences[i] for i in keep) if self.confidences else ()
        return OcrLine("".join(self.text[i] for i in keep), confidences)

    def confidence(self, start: int = 0, end: int | None = None, *, mean: bool = False) -> float:
        end = len(self.text) if end is None else end
        if not self.confidences:
            return 100.0
        values = [self.confidences[i] for i in range(start, min(end, len(self.confidences)))
                  if not self.text[i].isspace()]
        if not values:
            return 0.0
        return sum(values) / len(values) if mean else min(values)


@dataclass(frozen=True)
class StoreName:
    """A store the brand knows: ``key`` (e.g. the ReceiptStore id) and every name it is printed as."""

    key: object
    names: tuple[str, ...]


@dataclass(frozen=True)
class ParsedReceipt:
    store_text: str = ""
    store_key: object = None
    receipt_date: date | None = None
    receipt_number: str = ""
    total: Decimal | None = None
    confidence: dict = field(default_factory=dict)  # field name → 0..100


def receipt_parse(lines: Sequence[OcrLine | str], *, stores: Sequence[StoreName] = (),
                  today: date) -> ParsedReceipt:
    """The four fields of a receipt from its OCR lines; missing fields are empty with confidence 0."""
    lines = [line if isinstance(line, OcrLine) else OcrLine(line) for line in lines]
    lines = [line for line in lines if line.text.strip()]
    store_text, store_key, store_confidence = parse_store(lines, stores)
    lines = [OcrLine(fix_digits(line.text.translate(_THAI_DIGITS)), line.confidences).compact() for line in lines]
    receipt_date, date_confidence = parse_date(lines, today=today)
    number, number_confidence = parse_number(lines)
    total, total_confidence = parse_total(lines)
    return ParsedReceipt(
        store_text=store_text, store_key=store_key, receipt_date=receipt_date, receipt_number=number, total=total,
        confidence={"store": round(store_confidence), "date": round(date_confidence),
                    "number": round(number_confidence), "total": round(total_confidence)},
    )


# --- store ----------------------------------------------------------------------------------

_NOT_IN_NAMES = re.compile(r"[\s.\-'’,·|_()]+")


def squash_name(text: str) -> str:
    return _NOT_IN_NAMES.sub("", text).casefold()


def _name_score(name: str, text: str) -> tuple[float, int, int]:
    """How well ``name`` appears inside ``text`` (both squashed): matched share, penalised by spread."""
    if not name or not text:
        return 0.0, 0, 0
    blocks = [b for b in SequenceMatcher(None, name, text, autojunk=False).get_matching_blocks() if b.size]
    if not blocks:
        return 0.0, 0, 0
    matched = sum(b.size for b in blocks)
    start, end = blocks[0].b, blocks[-1].b + blocks[-1].size
    return matched / max(len(name), end - start), start, end


def parse_store(lines: list[OcrLine], stores: Sequence[StoreName]) -> tuple[str, object, float]:
    """The known store named in the header lines (fuzzy: OCR swaps look-alike Thai letters)."""
    header = lines[:HEADER_LINES]
    best = (0.0, 0, None, None)  # score, name length, store, line
    for line in header:
        squashed = squash_name(line.text)
        for store in stores:
            for name in store.names:
                score, _start, _end = _name_score(squash_name(name), squashed)
                if (score, len(name)) > best[:2]:
                    best = (score, len(name), store, line)
    score, _length, store, line = best
    if store is not None and score >= STORE_MATCH_MINIMUM:
        return line.text.strip(), store.key, score * line.confidence(mean=True)
    first = next((line.text.strip() for line in header if sum(ch.isalpha() for ch in line.text) >= 3), "")
    return first, None, 0.0


# --- date -------------------------------------------------------------------------------------

_THAI_MONTHS = [
    ("มกราคม", "ม.ค."), ("กุมภาพันธ์", "ก.พ."), ("มีนาคม", "มี.ค."), ("เมษายน", "เม.ย."), ("พฤษภาคม", "พ.ค."),
    ("มิถุนายน", "มิ.ย."), ("กรกฎาคม", "ก.ค."), ("สิงหาคม", "ส.ค."), ("กันยายน", "ก.ย."), ("ตุลาคม", "ต.ค."),
    ("พฤศจิกายน", "พ.ย."), ("ธันวาคม", "ธ.ค."),
]
_ENGLISH_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


_MARKS_OCR_CONFUSES = str.maketrans("", "", " .,\u0e38\u0e39")  # "พ.ย." is often read "พุย." or "พ ย"


def _month_key(text: str) -> str:
    return text.casefold().translate(_MARKS_OCR_CONFUSES)


_MONTH_NAMES = {_month_key(name): number for number, names in enumerate(_THAI_MONTHS, start=1) for name in names}
_MONTH_NAMES.update({name: number for number, name in enumerate(_ENGLISH_MONTHS, start=1)})
_LONG_MONTH_NAMES = {_month_key(full): number for number, (full, _short) in enumerate(_THAI_MONTHS, start=1)}


def month_from_name(text: str) -> tuple[int | None, float]:
    """The month number of a Thai or English month name or abbreviation as OCR read it."""
    key = _month_key(text)
    if key in _MONTH_NAMES:
        return _MONTH_NAMES[key], 1.0
    if key[:3] in _ENGLISH_MONTHS and key.isascii():
        return _ENGLISH_MONTHS.index(key[:3]) + 1, 1.0
    if len(key) >= 5:  # a full Thai month name with an OCR slip
        ratio, number = max((SequenceMatcher(None, key, name).ratio(), number)
                            for name, number in _LONG_MONTH_NAMES.items())
        if ratio >= 0.8:
            return number, 0.9
    return None, 0.0


# A year may run into the time when OCR drops the space: "2569 10:02" read as "256910:02".
_YEAR_END = r"(?:(?!\d)|(?=\d{1,2}[:.]\d{2}))"
_DATE_WORDS = re.compile(r"(?<!\d)(?P<day>\d{1,2})\s?-?\s?(?P<month>[^\d\s:/\-]{1,12}(?:\s[^\d\s:/\-]{1,8})?)"
                         rf"\s?-?,?\s?(?P<year>(?:25|19|20)\d{{2}}|\d{{2}}){_YEAR_END}")
# OCR sometimes splits a two-digit day or month with a space ("26/1 1/2569").
_DATE_DMY = re.compile(r"(?<![\d/.\-])(?P<day>\d\s?\d|\d)\s?(?P<sep>[/\-.])\s?(?P<month>\d\s?\d|\d)\s?(?P=sep)\s?"
                       rf"(?P<year>(?:25|19|20)\d{{2}}{_YEAR_END}|\d{{2}}(?![\d/]))")
_DATE_ISO = re.compile(r"(?<!\d)(?P<year>\d{4})\s?(?P<sep>[/\-.])\s?(?P<month>\d{1,2})\s?(?P=sep)\s?"
                       r"(?P<day>\d{1,2})(?!\d)")
_DATE_LABEL = re.compile(r"วันที่|วันที|date|วัน/เวลา", re.IGNORECASE)
_NOT_A_PURCHASE_DATE = re.compile(r"หมดอายุ|exp(?:ire|\.)|valid|ใช้ได้ถึง|ครบกำหนด|due", re.IGNORECASE)


def resolve_year(year_text: str, *, month: int, day: int, today: date) -> tuple[int | None, float]:
    """The Gregorian year (and a confidence factor) of a printed year: BE or Gregorian, 4 or 2 digits."""
    year = int(year_text)
    if len(year_text) == 4:
        if year >= 2400:
            return year - BUDDHIST_ERA_OFFSET, 1.0
        if 1900 <= year <= 2200:
            return year, 1.0
        return None, 0.0
    candidates = []
    for full in (2000 + year, 2500 + year - BUDDHIST_ERA_OFFSET):
        try:
            when = date(full, month, day)
        except ValueError:
            continue
        if today - timedelta(days=3 * 366) <= when <= today + timedelta(days=1):
            candidates.append((abs((today - when).days), full))
    if not candidates:
        return None, 0.0
    return min(candidates)[1], 0.95


def _make_date(day: int, month: int, year_text: str, today: date) -> tuple[date | None, float]:
    year, factor = resolve_year(year_text, month=month, day=day, today=today)
    if year is None:
        return None, 0.0
    try:
        return date(year, month, day), factor
    except ValueError:
        return None, 0.0


def _date_candidates(line: OcrLine, today: date):
    text = line.text
    for match in _DATE_WORDS.finditer(text):
        month, month_factor = month_from_name(match["month"])
        if month is None:
            continue
        when, factor = _make_date(int(match["day"]), month, match["year"], today)
        yield when, factor * month_factor, match.span()
    for match in _DATE_ISO.finditer(text):
        when, factor = _make_date(int(match["day"]), int(match["month"]), match["year"], today)
        yield when, factor, match.span()
    for match in _DATE_DMY.finditer(text):
        day, month = int(match["day"].replace(" ", "")), int(match["month"].replace(" ", ""))
        factor = 1.0
        if month > 12 >= day:  # month/day/year: rare on Thai receipts, read but trusted less
            day, month, factor = month, day, 0.8
        when, year_factor = _make_date(day, month, match["year"], today)
        yield when, factor * year_factor, match.span()


def parse_date(lines: list[OcrLine], *, today: date) -> tuple[date | None, float]:
    """The purchase date: a labelled one first, else the first valid one not in the future."""
    best = None  # (rank, date, confidence)
    for position, line in enumerate(lines):
        if _NOT_A_PURCHASE_DATE.search(line.text):
            continue
        labelled = bool(_DATE_LABEL.search(line.text))
        for when, factor, (start, end) in _date_candidates(line, today):
            if when is None:
                continue
            future = when > today + timedelta(days=1)
            rank = (not future, labelled, -position)
            confidence = line.confidence(start, end) * factor * (0.5 if future else 1.0)
            if best is None or rank > best[0]:
                best = (rank, when, confidence)
    if best is None:
        return None, 0.0
    return best[1], best[2]


# --- receipt number ------------------------------------------------------------------------

_NUMBER_LABEL = re.compile(
    r"ใบเสร็จ(?:รับเงิน)?\s?เลขที่|เลขที่\s?ใบเสร็จ|เลขที่\s?ใบกำกับ(?:ภาษี)?|เลขที่|เลขที"
    r"|receipt\s?(?:no\.?|number|#)|rcpt\s?(?:no\.?|#)|bill\s?(?:no\.?|#)|inv(?:oice)?\s?(?:no\.?|#)"
    r"|tax\s?inv(?:oice)?\.?(?:\s?\(?abb\.?\)?)?|\bn[o0]\.?(?![a-z])|#",
    re.IGNORECASE,
)
_NOT_A_NUMBER_LINE = re.compile(r"โทร|tel|phone|ภาษี|tax\s?id|เลขประจำตัว|วันที่|date|pos|เครื่อง", re.IGNORECASE)
_NUMBER_VALUE = re.compile(r"[\s:#.]*([A-Za-z0-9][A-Za-z0-9\-/]{2,39})")


def parse_number(lines: list[OcrLine]) -> tuple[str, float]:
    """The first labelled value with at least three digits, upper-cased."""
    for line in lines:
        for label in _NUMBER_LABEL.finditer(line.text):
            match = _NUMBER_VALUE.match(line.text, label.end())
            if not match:
                continue
            value = match.group(1).strip("-/")
            if sum(ch.isdigit() for ch in value) < 3:
                continue
            return value.upper(), line.confidence(match.start(1), match.start(1) + len(value))
    # No label read: a long run of digits in the header that is not a phone, tax ID or date, trusted less.
    for line in lines[:HEADER_LINES]:
        if _NOT_A_NUMBER_LINE.search(line.text):
            continue
        match = re.search(r"(?<![\d/.:\-])(\d{6,12})(?![\d/.:\-])", line.text)
        if match:
            return match.group(1), line.confidence(*match.span(1)) * 0.6
    return "", 0.0


# --- total --------------------------------------------------------------------------------------

_FINAL_TOTAL = re.compile(
    r"รวมทั้งสิ้น|รวมทั้งหมด|ยอดสุทธิ|ยอดรวมสุทธิ|ยอดชำระ(?:สุทธิ)?|ยอดที่ต้องชำระ|สุทธิ|grand\s?t[o0]tal|net\s?t[o0]tal"
    r"|t[o0]tal\s?due|amount\s?due|net\s?amount|t[o0]tal\s?amount",
    re.IGNORECASE,
)
_TOTAL = re.compile(r"ยอดรวม|รวมเงิน|รวม|t[o0]tal", re.IGNORECASE)
_NOT_THE_TOTAL = re.compile(
    r"sub\s?-?t[o0]tal|รวมย่อย|ก่อน|ไม่รวม|before|excl|ภาษี|vat|ส่วนลด|discount|ทอน|change|เงินสด|cash|รับเงิน"
    r"|บัตร|card|credit|service\s?charge|ค่าบริการ|แต้ม|point|ออม|save|items?\b|qty",
    re.IGNORECASE,
)
_AMOUNT = re.compile(
    r"(?<![\d.,])(?P<units>\d{1,3}(?:(?:,|\.|\s|')\d{3})+|\d+)(?:\s?[.,]\s?|\s)(?P<cents>\d{2})(?![\d])"
    r"|(?<![\d.,])(?P<grouped>\d{1,3}(?:,\d{3})+)(?![\d.,])"
    r"|(?<![\d.,])(?P<plain>\d+)(?![\d.,])"
)


def parse_amount(text: str, start: int = 0) -> tuple[Decimal | None, tuple[int, int], float]:
    """The last amount in ``text[start:]``, its span and a confidence factor (1.0 with decimals)."""
    found = None
    for match in _AMOUNT.finditer(text, start):
        found = match
    if found is None:
        return None, (0, 0), 0.0
    if found["units"] is not None:
        units = re.sub(r"[,.\s']", "", found["units"])
        raw, factor = f"{units}.{found['cents']}", 1.0
    elif found["grouped"] is not None:
        raw, factor = found["grouped"].replace(",", ""), 0.85
    else:
        raw, factor = found["plain"], 0.7
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        return None, (0, 0), 0.0
    return amount, found.span(), factor


_CASH = re.compile(r"เงินสด|รับเงิน|cash|received|tendered", re.IGNORECASE)
_CHANGE = re.compile(r"เงินทอน|ทอน|change", re.IGNORECASE)


def _labelled_amount(lines: list[OcrLine], label: re.Pattern) -> tuple[Decimal | None, float]:
    for line in lines:
        found = label.search(line.text)
        if found:
            amount, (start, end), factor = parse_amount(line.text, found.end())
            if amount is not None and factor == 1.0:
                return amount, line.confidence(start, end)
    return None, 0.0


def parse_total(lines: list[OcrLine]) -> tuple[Decimal | None, float]:
    """The total paid: the last final-total line, else the last plain total line.

    Cross-checked with cash − change when both are printed: agreeing raises the
    confidence; a total whose decimal point was lost ("87867" for 878.67) is corrected;
    disagreeing caps the confidence (a digit was misread somewhere: let staff look).
    """
    best = None  # (priority, position, amount, confidence)
    for position, line in enumerate(lines):
        text = line.text
        final = _FINAL_TOTAL.search(text)
        plain = None if final else _TOTAL.search(text)
        label = final or plain
        if label is None or (plain and _NOT_THE_TOTAL.search(text)) or (
                final and re.search(r"ก่อน|ไม่รวม|before|excl", text, re.IGNORECASE)):
            continue
        amount, (start, end), factor = parse_amount(text, label.end())
        source = line
        if amount is None and position + 1 < len(lines) and _AMOUNT.fullmatch(lines[position + 1].text.strip()):
            source = lines[position + 1]
            amount, (start, end), factor = parse_amount(source.text)
            factor *= 0.9
        if amount is None:
            continue
        candidate = (1 if final else 0, position, amount, source.confidence(start, end) * factor)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    total, confidence = (best[2], best[3]) if best else (None, 0.0)
    cash, cash_confidence = _labelled_amount(lines, _CASH)
    change, change_confidence = _labelled_amount(lines, _CHANGE)
    if cash is None or change is None or cash < change:
        return total, confidence
    if total is None:  # no total line read: cash − change is a good guess, not a sure one
        return cash - change, min(cash_confidence, change_confidence) * UNLABELLED_FACTOR
    paid, paid_confidence = cash - change, min(cash_confidence, change_confidence)
    if total == paid:
        return total, max(confidence, paid_confidence)
    if total is not None and str(total).replace(".", "").lstrip("0") == str(paid).replace(".", "").lstrip("0"):
        return paid, paid_confidence * 0.9
    # Disagreement: one of the three was misread (a 1 read as 4, a 5 as 9); trust neither much.
    return total, min(confidence, DISAGREEMENT_CONFIDENCE)

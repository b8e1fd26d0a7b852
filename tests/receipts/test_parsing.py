"""The pure receipt parser: store, date (Gregorian and Buddhist Era), receipt number, total."""

from datetime import date
from decimal import Decimal

import pytest

from loyalty.receipts.parsing import (
    OcrLine,
    StoreName,
    fix_digits,
    month_from_name,
    parse_amount,
    receipt_parse,
    resolve_year,
)

TODAY = date(2025, 3, 20)
STORES = [StoreName(key=1, names=("แต้มคาเฟ่ สาขาสยาม", "Taem Cafe Siam")),
          StoreName(key=2, names=("แต้มคาเฟ่ สาขาอารีย์",)),
          StoreName(key=3, names=("TAEM MART",))]


def parse(text: str, **options):
    return receipt_parse(text.strip().splitlines(), stores=options.pop("stores", STORES), today=TODAY, **options)


@pytest.mark.parametrize(("printed", "expected"), [
    ("วันที่ 15/03/2568 14:22", date(2025, 3, 15)),       # Buddhist Era, four digits
    ("15/03/68", date(2025, 3, 15)),
    ("sun 15/0 3/2568 14:22", date(2025, 3, 15)),       # OCR split the month with a space                     # BE, two digits (2068 would be in the future)
    ("15-03-25 10:01", date(2025, 3, 15)),               # Gregorian, two digits (BE 2525 is 1982)
    ("Date: 2025-03-15 09:10", date(2025, 3, 15)),       # ISO
    ("15.03.2025 POS 02", date(2025, 3, 15)),
    ("วันที่ 15 มี.ค. 2568", date(2025, 3, 15)),           # Thai month abbreviation
    ("วันที่ 15 มีค 2568", date(2025, 3, 15)),             # abbreviation without its dots
    ("15 มีนาคม 2568 10:02", date(2025, 3, 15)),          # Thai month name
    ("15 มีนาคม256810:02", date(2025, 3, 15)),           # OCR lost both spaces
    ("1 ม.ค. 68", date(2025, 1, 1)),
    ("Date 15 Mar 2025 19:50", date(2025, 3, 15)),
    ("15 March 2025", date(2025, 3, 15)),
    ("๑๕/๐๓/๒๕๖๘", date(2025, 3, 15)),                    # Thai digits
])
def test_dates_in_gregorian_and_buddhist_era(printed, expected):
    assert parse(f"TAEM MART\n{printed}\nรวม 100.00").receipt_date == expected


def test_a_labelled_date_wins_over_an_expiry_date_and_future_dates_are_not_preferred():
    parsed = parse("TAEM MART\nคูปองหมดอายุ 30/04/2568\nวันที่ 14/03/2568\nรวม 100.00")
    assert parsed.receipt_date == date(2025, 3, 14)
    assert parse("TAEM MART\n01/12/2568\n10/03/2568").receipt_date == date(2025, 3, 10)


def test_impossible_dates_are_not_read_and_month_first_dates_are_trusted_less():
    assert parse("TAEM MART\n31/02/2568\nรวม 1.00").receipt_date is None
    assert parse("TAEM MART\n32/13/2568\nรวม 1.00").receipt_date is None
    month_first = parse("TAEM MART\n03/13/2568\nรวม 1.00")
    assert month_first.receipt_date == date(2025, 3, 13) and month_first.confidence["date"] == 80


def test_year_resolution():
    assert resolve_year("2568", month=3, day=1, today=TODAY) == (2025, 1.0)
    assert resolve_year("2025", month=3, day=1, today=TODAY) == (2025, 1.0)
    assert resolve_year("68", month=3, day=1, today=TODAY)[0] == 2025
    assert resolve_year("24", month=3, day=1, today=TODAY)[0] == 2024
    assert resolve_year("99", month=3, day=1, today=TODAY) == (None, 0.0)


def test_month_names_with_ocr_slips():
    assert month_from_name("พ.ย.") == (11, 1.0)
    assert month_from_name("พุย.") == (11, 1.0)      # the dot read as a vowel mark
    assert month_from_name("พฤศจิกา ยน")[0] == 11    # a space inside
    assert month_from_name("พฤศจิกายบ")[0] == 11     # one letter wrong
    assert month_from_name("Sept")[0] == 9
    assert month_from_name("โต๊ะ") == (None, 0.0)


@pytest.mark.parametrize(("printed", "expected"), [
    ("TAX INV (ABB) เลขที่ 000123", "000123"),
    ("TAX INV#V0012345", "V0012345"),
    ("No. R55-4230", "R55-4230"),
    ("Receipt # 88123", "88123"),
    ("Receipt No: 2025/0042", "2025/0042"),
    ("ใบเสร็จเลขที่ INV6803-0099", "INV6803-0099"),
    ("เลขที่ใบเสร็จ 77881", "77881"),
    ("Bill No. ab-1234", "AB-1234"),
])
def test_receipt_numbers_after_their_labels(printed, expected):
    assert parse(f"TAEM MART\n{printed}\nรวม 10.00").receipt_number == expected


def test_a_tax_id_phone_or_month_is_not_a_receipt_number():
    parsed = parse("TAEM MART\nเลขประจำตัวผู้เสียภาษี 0105561234567\nโทร 02-123-4567\nDate 23 Nov 2024\nรวม 1.00")
    assert parsed.receipt_number == ""
    assert parsed.confidence["number"] == 0


def test_an_unlabelled_long_number_in_the_header_is_taken_with_low_confidence():
    parsed = receipt_parse([OcrLine("TAEM MART", (95.0,) * 9), OcrLine("bau 00162496", (90.0,) * 12)],
                           stores=STORES, today=TODAY)
    assert parsed.receipt_number == "00162496"
    assert parsed.confidence["number"] < 60


@pytest.mark.parametrize(("lines", "expected"), [
    ("รวม 1,250.00", "1250.00"),
    ("รวมทั้งสิ้น 2,480.50", "2480.50"),
    ("ยอดสุทธิ ฿ 99.00", "99.00"),
    ("TOTAL 350.00", "350.00"),
    ("Total 1,234.50", "1234.50"),
    ("รวมเงิน 12,345.75 บาท", "12345.75"),
    ("รวม 3 รายการ 1,250.00", "1250.00"),                     # the item count is not the amount
    ("รวม 1,250.00\nส่วนลด 50.00\nรวมทั้งสิ้น 1,200.00", "1200.00"),  # the final total wins
    ("Subtotal 1,000.00\nVAT 7% 70.00\nTotal 1,070.00", "1070.00"),
    ("รวม\n1,250.00", "1250.00"),                             # amount on the next line
    ("รวม 1.250.00", "1250.00"),                              # OCR read the comma as a dot
    ("รวม 739 50", "739.50"),                                 # the decimal point lost to a space
    ("ร ว ม 1,250.0O", "1250.00"),                            # spaces inside Thai, O for 0
])
def test_totals_by_label(lines, expected):
    assert parse(f"TAEM MART\n{lines}").total == Decimal(expected)


def test_vat_cash_and_change_lines_are_never_the_total():
    parsed = parse("TAEM MART\nรวมภาษีมูลค่าเพิ่ม 81.78\nเงินสด 1,300.00\nเงินทอน 50.00\nTotal 1,250.00")
    assert parsed.total == Decimal("1250.00")


def test_cash_minus_change_recovers_a_total_whose_point_was_lost_or_whose_label_was_misread():
    fixed = parse("TAEM MART\nรวมทั้งสิ้น 87867\nเงินสด 1,000.00\nเงินทอน 121.33")
    assert fixed.total == Decimal("878.67")
    unlabelled = parse("TAEM MART\nSOU 1,078.41\nเงินสด 1,200.00\nเงินทอน 121.59")
    assert unlabelled.total == Decimal("1078.41") and unlabelled.confidence["total"] == 60


def test_no_total_label_means_no_total():
    parsed = parse("TAEM MART\nลาเต้ 65.00")
    assert parsed.total is None and parsed.confidence["total"] == 0


def test_amounts():
    assert parse_amount("1,250.00")[0] == Decimal("1250.00")
    assert parse_amount("x 1,250")[0] == Decimal("1250") and parse_amount("x 1,250")[2] < 1
    assert parse_amount("none") == (None, (0, 0), 0.0)
    assert fix_digits("1,25O.0O") == "1,250.00" and fix_digits("No. Oreo") == "No. Oreo"


def test_stores_match_fuzzily_in_the_header_and_the_longest_name_wins():
    parsed = parse("แต้มคาเฟ สาขาอารีย์\nซอยอารีย์ 1\nรวม 10.00")    # OCR dropped a tone mark
    assert parsed.store_key == 2 and parsed.store_text == "แต้มคาเฟ สาขาอารีย์"
    assert parse("Taem Cafe  Siam\nรวม 1.00").store_key == 1          # an alias
    assert parse("ร้านอื่น\nรวม 1.00").store_key is None
    assert parse("ร้านอื่น\nรวม 1.00").store_text == "ร้านอื่น"
    assert parse("ร้านอื่น\nรวม 1.00").confidence["store"] == 0


def test_confidence_is_the_weakest_character_of_the_value():
    line = OcrLine("รวม 1,250.00", (95.0,) * 4 + (91.0, 91.0, 55.0, 91.0, 91.0, 91.0, 91.0, 91.0))
    parsed = receipt_parse([OcrLine("TAEM MART"), line], stores=STORES, today=TODAY)
    assert parsed.total == Decimal("1250.00") and parsed.confidence["total"] == 55


def test_a_whole_thai_receipt():
    text = """
    แต้มคาเฟ่ สาขาสยาม
    ถนนพระราม 1 ปทุมวัน กรุงเทพฯ
    TAX INV (ABB) เลขที่ 000123
    วันที่ 15/03/2568 14:22
    ลาเต้เย็น 65.00
    ครัวซองต์ 1,185.00
    VAT 7% 81.78
    รวม 1,250.00
    เงินสด 1,300.00
    เงินทอน 50.00
    """
    parsed = parse(text)
    assert (parsed.store_key, parsed.receipt_date, parsed.receipt_number, parsed.total) == (
        1, date(2025, 3, 15), "000123", Decimal("1250.00"))
    assert set(parsed.confidence.values()) == {100}


def test_a_total_that_disagrees_with_cash_minus_change_is_not_trusted():
    parsed = parse("TAEM MART\nTOTAL 4,058.28\nเงินสด 1,200.00\nเงินทอน 141.72")
    assert parsed.total == Decimal("4058.28") and parsed.confidence["total"] <= 40
    agreed = parse("TAEM MART\nTOTAL 1,058.28\nเงินสด 1,200.00\nเงินทอน 141.72")
    assert agreed.confidence["total"] == 100

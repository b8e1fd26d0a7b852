"""Reading marketplace order exports (Shopee, Lazada, TikTok Shop; CSV or XLSX) into orders.

Seller centres export one row per *item*: an order with three products is three rows
with the same order ID and the order-level columns repeated. ``orders_parse`` groups the
rows by order ID (in file order) and returns one ``ParsedOrder`` per order; the report
names the order's first row. Column names are matched case-insensitively, ignoring
spaces and a trailing ``*``; each field takes the first of its accepted names that the
file has (``loyalty/orders/samples/README.md`` documents every mapping).

Only completed/delivered orders earn. Cancelled, returned or failed-delivery orders
reverse what an earlier import credited. Everything else (unpaid, to ship, shipping) is
skipped until a later export shows it completed. Nothing here writes: parsing is pure,
so a file can be checked at upload and parsed again by the worker.
"""

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.translation import gettext as _

from config.domain import ValidationFailed
from loyalty.services.earning import LineInput
from loyalty.services.ledger import BANGKOK
from members.errors import InvalidPhone
from members.services import phone_normalise

from .models import ORDER_ID_MAX_LENGTH

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000
MAX_LINES_PER_ORDER = 500
HEADER_SEARCH_ROWS = 10
CENT = Decimal("0.01")
ORDER_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-./]*$")

EARN, REVERSE, IGNORE = "earn", "reverse", "ignore"


@dataclass(frozen=True)
class Mapping:
    """Accepted column names per field, first match wins, and what each status means."""

    order_id: tuple[str, ...]
    status: tuple[str, ...]
    created_at: tuple[str, ...]
    total: tuple[str, ...] = ()  # order level, repeated on every item row
    line_amount: tuple[str, ...] = ()
    sku: tuple[str, ...] = ()
    product_name: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    quantity: tuple[str, ...] = ()
    phone: tuple[str, ...] = ()
    email: tuple[str, ...] = ()
    refund_amount: tuple[str, ...] = ()  # order level: what the marketplace already refunded
    refund_status: tuple[str, ...] = ()
    earn_statuses: frozenset[str] = frozenset()
    reverse_statuses: frozenset[str] = frozenset()
    refund_done_statuses: frozenset[str] = frozenset()
    status_per_item: bool = False  # Lazada: each item has its own status and paid price
    date_formats: tuple[str, ...] = ()


ISO_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S",
               "%Y/%m/%d %H:%M", "%Y/%m/%d")
DAY_FIRST_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M",
                     "%d-%m-%Y")

MAPPINGS = {
    "shopee": Mapping(
        order_id=("Order ID", "หมายเลขคำสั่งซื้อ"),
        status=("Order Status", "สถานะการสั่งซื้อ"),
        created_at=("Order Paid Time", "Order Creation Date", "เวลาการชำระสินค้า", "วันที่ทำการสั่งซื้อ"),
        total=("Total Amount", "Grand Total", "จำนวนเงินทั้งหมด", "ยอดรวมทั้งหมด"),
        line_amount=("Product Subtotal", "Deal Price", "ราคารวมสินค้า", "ราคาขาย"),
        sku=("SKU Reference No.", "Parent SKU Reference No.", "เลขอ้างอิง SKU (SKU Reference No.)"),
        product_name=("Product Name", "ชื่อสินค้า"),
        quantity=("Quantity", "จำนวน"),
        phone=("Phone Number", "หมายเลขโทรศัพท์"),
        email=("Email", "อีเมล"),
        refund_status=("Return / Refund Status", "สถานะการคืนเงินหรือคืนสินค้า"),
        earn_statuses=frozenset({"completed", "สำเร็จแล้ว", "สำเร็จ"}),
        reverse_statuses=frozenset({"cancelled", "canceled", "ยกเลิกแล้ว", "ยกเลิก"}),
        refund_done_statuses=frozenset({"refund approved", "refunded", "return completed", "returned",
                                        "คืนเงินสำเร็จ", "คืนเงินแล้ว", "คืนสินค้าสำเร็จ"}),
        date_formats=(*ISO_FORMATS, *DAY_FIRST_FORMATS),
    ),
    "lazada": Mapping(
        order_id=("orderNumber", "Order Number"),
        status=("status", "Order Status"),
        created_at=("createTime", "Created at", "Order Date"),
        line_amount=("paidPrice", "Paid Price"),
        sku=("sellerSku", "Seller SKU", "lazadaSku"),
        product_name=("itemName", "Item Name"),
        phone=("shippingPhone", "billingPhone", "Shipping Phone"),
        email=("customerEmail", "Customer Email"),
        earn_statuses=frozenset({"delivered", "confirmed", "completed", "จัดส่งสำเร็จ"}),
        reverse_statuses=frozenset({"canceled", "cancelled", "returned", "failed", "failed delivery", "refunded",
                                    "package returned", "ยกเลิก", "คืนสินค้า"}),
        status_per_item=True,
        date_formats=("%d %b %Y %H:%M", "%d %b %Y %H:%M:%S", *ISO_FORMATS, *DAY_FIRST_FORMATS),
    ),
    "tiktok": Mapping(
        order_id=("Order ID", "หมายเลขคำสั่งซื้อ"),
        status=("Order Status", "สถานะคำสั่งซื้อ"),
        created_at=("Paid Time", "Created Time", "เวลาที่ชำระเงิน", "เวลาที่สร้าง"),
        total=("Order Amount", "ยอดคำสั่งซื้อ"),
        line_amount=("SKU Subtotal After Discount", "SKU Subtotal Before Discount"),
        sku=("Seller SKU", "SKU ID"),
        product_name=("Product Name", "ชื่อสินค้า"),
        category=("Product Category",),
        quantity=("Quantity", "จำนวน"),
        phone=("Phone #", "Phone", "เบอร์โทรศัพท์"),
        email=("Email",),
        refund_amount=("Order Refund Amount", "ยอดเงินคืน"),
        earn_statuses=frozenset({"completed", "delivered", "เสร็จสมบูรณ์", "สำเร็จแล้ว", "จัดส่งแล้ว"}),
        reverse_statuses=frozenset({"cancelled", "canceled", "ยกเลิกแล้ว", "ยกเลิก"}),
        date_formats=("%m/%d/%Y %I:%M:%S %p", "%d/%m/%Y %H:%M:%S", *ISO_FORMATS),
    ),
}


@dataclass
class ParsedOrder:
    row_number: int
    order_id: str
    state: str = IGNORE
    raw_status: str = ""
    total: Decimal | None = None
    purchased_at: datetime | None = None
    phone: str = ""  # E.164 when usable
    email: str = ""
    identifier_note: str = ""  # why the buyer cannot be identified (masked phone, …)
    lines: list[LineInput] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)
    problem: str = ""  # a reason the order cannot be processed at all

    @property
    def rows_label(self) -> str:
        if len(self.row_numbers) <= 1:
            return str(self.row_number)
        return f"{self.row_numbers[0]}–{self.row_numbers[-1]}"


@dataclass
class ParsedFile:
    orders: list[ParsedOrder]
    data_rows: int
    columns: dict[str, str]  # field → the file's column name used


def _normalise_header(value) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip().rstrip("*").strip().lower()


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        value = Decimal(str(value))
        value = value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
    return str(value).strip()


def read_rows(data: bytes) -> list[list]:
    """The cells of the first sheet (XLSX) or of the CSV, as lists; the file type is read from its content."""
    if len(data) > MAX_FILE_BYTES:
        raise ValidationFailed(fields={"file": [_("The file is larger than 10 MB.")]})
    if data[:4] == b"PK\x03\x04":
        return _read_xlsx(data)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ValidationFailed(fields={"file": [_("Old Excel (.xls) files cannot be read: save it as .xlsx or CSV.")]})
    return _read_csv(data)


def _read_xlsx(data: bytes) -> list[list]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise ValidationFailed(fields={"file": [_("This is not a readable XLSX file.")]}) from error
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # exports often declare wrong dimensions; read every row that is there
        rows = []
        for values in sheet.iter_rows(values_only=True):
            rows.append(list(values))
            if len(rows) > MAX_ROWS + HEADER_SEARCH_ROWS:
                raise ValidationFailed(fields={"file": [_("At most %(rows)d rows per file.") % {"rows": MAX_ROWS}]})
        return rows
    finally:
        workbook.close()


def _read_csv(data: bytes) -> list[list]:
    for encoding in ("utf-8-sig", "cp874"):  # cp874: Thai Windows, as Excel saves "CSV" in Thailand
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValidationFailed(fields={"file": [_("The file is neither XLSX nor a UTF-8 or Thai (TIS-620) CSV.")]})
    if "\x00" in text:
        raise ValidationFailed(fields={"file": [_("The file is neither XLSX nor a UTF-8 or Thai (TIS-620) CSV.")]})
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(",;\t", key=first_line.count)  # the header's separator (comma unless another is commoner)
    rows = []
    for values in csv.reader(io.StringIO(text), delimiter=delimiter):
        rows.append(values)
        if len(rows) > MAX_ROWS + HEADER_SEARCH_ROWS:
            raise ValidationFailed(fields={"file": [_("At most %(rows)d rows per file.") % {"rows": MAX_ROWS}]})
    return rows


def _find_header(rows: list[list], mapping: Mapping) -> int:
    wanted = {_normalise_header(name) for name in mapping.order_id}
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if wanted & {_normalise_header(cell) for cell in row}:
            return index
    raise ValidationFailed(fields={"file": [
        _("No header row with an order ID column (%(names)s) in the first rows. Is this the right marketplace?")
        % {"names": ", ".join(mapping.order_id)}]})


def _column_index(header: list, names: tuple[str, ...]) -> tuple[int | None, str]:
    normalised = [_normalise_header(cell) for cell in header]
    for name in names:
        key = _normalise_header(name)
        if key in normalised:
            return normalised.index(key), name
    return None, ""


def parse_amount(raw) -> Decimal | None:
    text = _cell_text(raw)
    if not text:
        return None
    text = re.sub(r"(?i)thb|฿|บาท|,|\s", "", text)
    try:
        amount = Decimal(text)
    except InvalidOperation as error:
        raise ValueError(raw) from error
    if not amount.is_finite():
        raise ValueError(raw)
    return amount.quantize(CENT)


BUDDHIST_YEAR = re.compile(r"\b(2[4-6]\d\d)\b")


def parse_datetime(raw, formats: tuple[str, ...]) -> datetime | None:
    """A Bangkok-aware datetime from a cell; Buddhist-era years (e.g. 2569) are converted."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, datetime):
        value = raw
    else:
        text = BUDDHIST_YEAR.sub(lambda match: str(int(match.group(1)) - 543), _cell_text(raw))
        for date_format in formats:
            try:
                value = datetime.strptime(text, date_format)  # noqa: DTZ007 - made aware (Bangkok) below
                break
            except ValueError:
                continue
        else:
            raise ValueError(raw)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=BANGKOK)
    return value


def _phone(raw) -> tuple[str, str]:
    """``(E.164 phone, note)``: marketplaces often mask buyer phones (``******5678``)."""
    text = _cell_text(raw)
    if not text:
        return "", ""
    if "*" in text or "x" in text.lower().replace("+", ""):
        return "", _("the buyer's phone is masked by the marketplace")
    try:
        return phone_normalise(text), ""
    except InvalidPhone:
        return "", _("the buyer's phone %(phone)s is not a valid phone number") % {"phone": text}


def _email(raw) -> str:
    text = _cell_text(raw).lower()
    if not text or "*" in text or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text) or len(text) > 254:
        return ""
    return text


def _status(raw) -> str:
    return re.sub(r"\s+", " ", _cell_text(raw)).strip().lower()


def orders_parse(data: bytes, marketplace: str) -> ParsedFile:
    """Every order in the file; raises ``ValidationFailed`` when the file or its columns cannot be read."""
    mapping = MAPPINGS[marketplace]
    rows = read_rows(data)
    header_index = _find_header(rows, mapping)
    header = rows[header_index]
    columns, used = {}, {}
    for name in ("order_id", "status", "created_at", "total", "line_amount", "sku", "product_name", "category",
                 "quantity", "phone", "email", "refund_amount", "refund_status"):
        index, column = _column_index(header, getattr(mapping, name))
        if index is not None:
            columns[name], used[name] = index, column
    missing = [label for label, present in (
        (" / ".join(mapping.status), "status" in columns),
        (" / ".join(mapping.total or mapping.line_amount), "total" in columns or "line_amount" in columns),
    ) if not present]
    if missing:
        raise ValidationFailed(fields={"file": [_("Missing columns: %(columns)s.") % {"columns": "; ".join(missing)}]})

    normalised_header = [_normalise_header(value) for value in header]
    date_columns = [normalised_header.index(_normalise_header(name)) for name in mapping.created_at
                    if _normalise_header(name) in normalised_header]

    def cell(row: list, name: str):
        if name == "created_at":  # the first date column with a value (paid time is empty on unpaid orders)
            values = [row[index] for index in date_columns if index < len(row) and _cell_text(row[index])]
            return values[0] if values else None
        index = columns.get(name)
        return row[index] if index is not None and index < len(row) else None

    by_id: dict[str, ParsedOrder] = {}
    orders: list[ParsedOrder] = []
    item_statuses: dict[str, list[tuple[str, Decimal]]] = {}
    data_rows = 0
    for offset, row in enumerate(rows[header_index + 1:], start=1):
        row_number = header_index + 1 + offset  # 1-based, as the spreadsheet shows it
        if not any(_cell_text(value) for value in row):
            continue
        order_id = _cell_text(cell(row, "order_id"))
        if offset == 1 and order_id and not ORDER_ID_PATTERN.match(order_id):
            continue  # TikTok Shop puts a row of column descriptions under the header
        data_rows += 1
        if not order_id or not ORDER_ID_PATTERN.match(order_id) or len(order_id) > ORDER_ID_MAX_LENGTH:
            orders.append(ParsedOrder(row_number=row_number, order_id=order_id[:100], row_numbers=[row_number],
                                      problem=_("No valid order ID in this row.")))
            continue
        order = by_id.get(order_id)
        if order is None:
            order = ParsedOrder(row_number=row_number, order_id=order_id)
            by_id[order_id] = order
            orders.append(order)
            _read_order_fields(order, row, cell, mapping)
        order.row_numbers.append(row_number)
        _read_line(order, row, cell, mapping, item_statuses)
    for order in orders:
        if not order.problem:
            _decide(order, mapping, item_statuses.get(order.order_id, []), has_total="total" in columns)
    return ParsedFile(orders=orders, data_rows=data_rows, columns=used)


def _read_order_fields(order: ParsedOrder, row: list, cell, mapping: Mapping) -> None:
    order.raw_status = _cell_text(cell(row, "status"))
    try:
        order.purchased_at = parse_datetime(cell(row, "created_at"), mapping.date_formats)
    except ValueError:
        order.problem = _("Cannot read the date %(value)s.") % {"value": _cell_text(cell(row, "created_at"))}
        return
    if order.purchased_at and order.purchased_at > timezone.now() + timedelta(days=1):
        order.problem = _("The order date is in the future.")
        return
    try:
        order.total = parse_amount(cell(row, "total"))
        refunded = parse_amount(cell(row, "refund_amount"))
    except ValueError as error:
        order.problem = _("Cannot read the amount %(value)s.") % {"value": _cell_text(error.args[0])}
        return
    if order.total is not None and refunded:
        order.total = max(order.total - refunded, Decimal("0.00"))
    order.phone, order.identifier_note = _phone(cell(row, "phone"))
    order.email = _email(cell(row, "email"))
    refund_status = _status(cell(row, "refund_status"))
    if refund_status and refund_status in mapping.refund_done_statuses:
        order.raw_status = f"{order.raw_status} / {_cell_text(cell(row, 'refund_status'))}"
        order.state = REVERSE


def _read_line(order: ParsedOrder, row: list, cell, mapping: Mapping, item_statuses: dict) -> None:
    if order.problem:
        return
    try:
        amount = parse_amount(cell(row, "line_amount"))
    except ValueError as error:
        order.problem = _("Cannot read the amount %(value)s.") % {"value": _cell_text(error.args[0])}
        return
    if mapping.status_per_item:
        item_statuses.setdefault(order.order_id, []).append((_status(cell(row, "status")), amount or Decimal("0")))
    if len(order.lines) >= MAX_LINES_PER_ORDER:
        return
    quantity_text = _cell_text(cell(row, "quantity"))
    quantity = int(quantity_text) if quantity_text.isdigit() and 0 < int(quantity_text) <= 1_000_000 else 1
    sku = (_cell_text(cell(row, "sku")) or _cell_text(cell(row, "product_name")))[:100]
    order.lines.append(LineInput(amount=max(amount or Decimal("0"), Decimal("0")), sku=sku,
                                 category=_cell_text(cell(row, "category"))[:100], quantity=quantity))


def _decide(order: ParsedOrder, mapping: Mapping, items: list[tuple[str, Decimal]], *, has_total: bool) -> None:
    """Earn, reverse or ignore, and the total that earns."""
    if order.state == REVERSE:  # a completed refund/return seen in the order's refund status
        return
    if mapping.status_per_item and items:
        earning = [amount for status, amount in items if status in mapping.earn_statuses]
        if earning:
            order.state, order.total = EARN, sum(earning, Decimal("0.00"))
            order.lines = [line for line, (status, _amount) in zip(order.lines, items, strict=False)
                           if status in mapping.earn_statuses]
        elif all(status in mapping.reverse_statuses for status, _amount in items):
            order.state = REVERSE
        else:
            order.state = IGNORE
        order.raw_status = ", ".join(sorted({status for status, _amount in items}))
        return
    status = _status(order.raw_status)
    if status in mapping.earn_statuses:
        order.state = EARN
        if order.total is None:
            if has_total:
                order.problem = _("The order has no total.")
                return
            order.total = sum((line.amount for line in order.lines), Decimal("0.00"))
        if order.total < 0:
            order.problem = _("The total is negative.")
    elif status in mapping.reverse_statuses:
        order.state = REVERSE
    else:
        order.state = IGNORE

"""The printable files of a batch: CSV (streamed, any size) and A4 PDF sheets of QR labels.

Both derive the codes again from the batch secret (``selectors.claim_batch_codes``). The PDF
is rendered by Pillow at 150 dpi, bilevel, 24 labels (4 × 6, about 47 × 46 mm) a page,
with light cut lines, the QR of the claim URL, the code and the label number. A download
holds at most ``PDF_MAX_LABELS`` labels (about 9 s and 6 MB for 5,000); larger batches are
downloaded in parts.
"""

import csv
import io
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont

from .models import ClaimBatch
from .selectors import claim_batch_codes, claim_url

PDF_MAX_LABELS = 5_000
DPI = 150
PAGE_SIZE = (1240, 1754)  # A4 at 150 dpi
COLUMNS, ROWS = 4, 6
LABELS_PER_PAGE = COLUMNS * ROWS
MARGIN = 60
QR_SIDE = 210  # pixels; about 36 mm, the QR's own quiet zone is the label's white space
MONO_FONTS = ["/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
              "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
              "/usr/share/fonts/truetype/liberation/LiberationMono-Bold.ttf"]


class _Echo:
    """A file-like whose ``write`` returns the line, for streaming ``csv.writer`` output."""

    def write(self, value: str) -> str:
        return value


def csv_lines(batch: ClaimBatch) -> Iterator[str]:
    """The batch as CSV lines: ``number,code,url`` (url: what the label's QR holds)."""
    writer = csv.writer(_Echo())
    url_prefix = claim_url(batch=batch, code="")
    yield writer.writerow(["number", "code", "url"])
    for number, code in claim_batch_codes(batch=batch):
        yield writer.writerow([number, code, url_prefix + code])


def pdf_parts(batch: ClaimBatch) -> list[tuple[int, int]]:
    """``(first, last)`` label numbers of each PDF download of the batch."""
    return [(start, min(start + PDF_MAX_LABELS - 1, batch.quantity))
            for start in range(1, batch.quantity + 1, PDF_MAX_LABELS)]


@cache
def _font(size: int):
    for path in MONO_FONTS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def _qr_version(text: str) -> int:
    """The smallest QR version for ``text``; every URL of a batch has the same length."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(text, optimize=0)
    qr.make(fit=True)
    return qr.version


def _qr_image(text: str, version: int) -> Image.Image:
    # A fixed version and mask skip qrcode's searches (the mask search alone is 5 ms of 6 a code);
    # any mask is a valid QR code, and the label's QR is large and high-contrast.
    qr = qrcode.QRCode(version=version, error_correction=qrcode.constants.ERROR_CORRECT_M, border=0, mask_pattern=2)
    qr.add_data(text, optimize=0)
    qr.make(fit=False)
    matrix = qr.get_matrix()
    size = len(matrix)
    modules = Image.frombytes("1", (size, size), _packed_rows(matrix))
    scale = max(1, QR_SIDE // size)
    return modules.resize((size * scale, size * scale), Image.Resampling.NEAREST)


def _packed_rows(matrix) -> bytes:
    """Rows of a QR matrix as 1-bit pixels (1 = white), each row padded to whole bytes."""
    out = bytearray()
    for row in matrix:
        bits = "".join("0" if dark else "1" for dark in row)
        bits += "1" * (-len(bits) % 8)
        out += int(bits, 2).to_bytes(len(bits) // 8, "big")
    return bytes(out)


def _page(batch: ClaimBatch, labels: list[tuple[int, str]], page_number: int, page_count: int, *, url_prefix: str,
          version: int) -> Image.Image:
    page = Image.new("1", PAGE_SIZE, 1)
    draw = ImageDraw.Draw(page)
    cell_width = (PAGE_SIZE[0] - 2 * MARGIN) // COLUMNS
    cell_height = (PAGE_SIZE[1] - 2 * MARGIN) // ROWS
    for column in range(1, COLUMNS):  # dotted cut lines
        x = MARGIN + column * cell_width
        for y in range(MARGIN, PAGE_SIZE[1] - MARGIN, 12):
            draw.line([(x, y), (x, y + 3)], fill=0)
    for row in range(1, ROWS):
        y = MARGIN + row * cell_height
        for x in range(MARGIN, PAGE_SIZE[0] - MARGIN, 12):
            draw.line([(x, y), (x + 3, y)], fill=0)
    for position, (number, code) in enumerate(labels):
        row, column = divmod(position, COLUMNS)
        left, top = MARGIN + column * cell_width, MARGIN + row * cell_height
        qr = _qr_image(url_prefix + code, version)
        page.paste(qr, (left + (cell_width - qr.width) // 2, top + 14))
        centre = left + cell_width // 2
        draw.text((centre, top + 14 + qr.height + 22), code, font=_font(21), fill=0, anchor="mm")
        draw.text((centre, top + 14 + qr.height + 48), f"#{number}", font=_font(15), fill=0, anchor="mm")
    footer = f"{batch.brand.slug} · batch {batch.pk} · page {page_number}/{page_count}"
    draw.text((PAGE_SIZE[0] // 2, PAGE_SIZE[1] - MARGIN // 2), footer, font=_font(15), fill=0, anchor="mm")
    return page


def labels_pdf(batch: ClaimBatch, *, start: int = 1, count: int = PDF_MAX_LABELS) -> bytes:
    """A PDF of labels ``start``… (at most ``PDF_MAX_LABELS``), ``LABELS_PER_PAGE`` a page."""
    count = max(0, min(count, PDF_MAX_LABELS))
    labels = list(claim_batch_codes(batch=batch, start=start, count=count))
    if not labels:
        raise ValueError("no labels in this range")
    chunks = [labels[i:i + LABELS_PER_PAGE] for i in range(0, len(labels), LABELS_PER_PAGE)]
    url_prefix = claim_url(batch=batch, code="")
    version = _qr_version(url_prefix + labels[0][1])
    pages = [_page(batch, chunk, index + 1, len(chunks), url_prefix=url_prefix, version=version)
             for index, chunk in enumerate(chunks)]
    out = io.BytesIO()
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:], resolution=DPI,
                  title=f"Claim codes {batch.pk} ({labels[0][0]}-{labels[-1][0]})", producer="Taem")
    return out.getvalue()

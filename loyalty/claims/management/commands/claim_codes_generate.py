"""Generate a batch of claim codes and write its CSV (and optionally PDF labels) under var/.

    manage.py claim_codes_generate --brand demo --points 10 --quantity 100 --name "Demo"

Prints the path of the CSV (``number,code,url``) and one claim URL to try. The files hold the
codes in plaintext: they are written readable by their owner only.
"""

import os
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from config.domain import DomainError
from loyalty.claims import exports
from loyalty.claims.models import ClaimBatch
from loyalty.claims.selectors import claim_batch_codes, claim_batch_first_unclaimed, claim_url
from loyalty.claims.services import claim_batch_create
from loyalty.models import PointCurrency
from members.models import Brand


def _write_private(path: Path, chunks) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        for chunk in chunks:
            handle.write(chunk.encode() if isinstance(chunk, str) else chunk)


class Command(BaseCommand):
    help = "Generate a batch of one-time claim codes and write them as CSV (and PDF labels) under var/."

    def add_arguments(self, parser):
        parser.add_argument("--brand", required=True, help="Brand slug.")
        parser.add_argument("--points", type=int, required=True, help="Points per code.")
        parser.add_argument("--quantity", type=int, required=True, help="Number of codes (at most 100,000).")
        parser.add_argument("--name", required=True, help="Batch name shown to staff and members.")
        parser.add_argument("--currency", help="Currency code (default: the brand's default currency).")
        parser.add_argument("--days", type=int, default=365, help="Valid for this many days from now (0: no end).")
        parser.add_argument("--per-member-limit", type=int, default=None, help="Codes one member may claim.")
        parser.add_argument("--sku", default="")
        parser.add_argument("--campaign", default="")
        parser.add_argument("--pdf", action="store_true", help="Also write the first PDF sheet of QR labels.")
        parser.add_argument("--reuse", action="store_true",
                            help="If the brand has a batch of this name, write its files again instead of "
                                 "creating another (for `make run`).")

    def handle(self, *args, **options):
        brand = Brand.objects.filter(slug=options["brand"]).first()
        if brand is None:
            raise CommandError(f"No brand with slug {options['brand']!r}.")
        currency = None
        if options["currency"]:
            currency = PointCurrency.objects.filter(brand=brand, code=options["currency"]).first()
            if currency is None:
                raise CommandError(f"Brand {brand.slug} has no currency {options['currency']!r}.")
        now = timezone.now()
        batch = None
        if options["reuse"]:
            batch = ClaimBatch.objects.filter(brand=brand, name=options["name"]).select_related("brand").first()
        if batch is not None:
            self.stdout.write("Reusing the existing batch (its codes are derived again from its secret).")
            self._write(batch, pdf=options["pdf"])
            return
        try:
            batch, _codes = claim_batch_create(
                brand=brand, currency=currency, name=options["name"], points=options["points"],
                quantity=options["quantity"], valid_from=now,
                valid_until=now + timedelta(days=options["days"]) if options["days"] > 0 else None,
                per_member_limit=options["per_member_limit"], sku=options["sku"], campaign=options["campaign"],
            )
        except DomainError as error:
            raise CommandError(f"{error.message} {error.fields}") from error
        self._write(batch, pdf=options["pdf"])

    def _write(self, batch, *, pdf: bool) -> None:
        brand = batch.brand
        folder = Path(settings.VAR_DIR) / "claim_codes"
        folder.mkdir(parents=True, exist_ok=True)
        csv_path = folder / f"claim-codes-{brand.slug}-{batch.pk}.csv"
        _write_private(csv_path, exports.csv_lines(batch))
        self.stdout.write(f"Batch {batch.pk} ({batch.name}): {batch.quantity} codes of {batch.points} points.")
        if pdf:
            pdf_path = folder / f"claim-labels-{brand.slug}-{batch.pk}.pdf"
            _write_private(pdf_path, [exports.labels_pdf(batch)])
            self.stdout.write(f"PDF labels: {pdf_path}")
        number = claim_batch_first_unclaimed(batch=batch)
        if number is not None:
            code = next(claim_batch_codes(batch=batch, start=number, count=1))[1]
            self.stdout.write(f"Try an unclaimed one (#{number}): {claim_url(batch=batch, code=code)}")
        self.stdout.write(str(csv_path))

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from config.domain import DomainError
from members.models import Brand

from ...imports import order_import_create, order_import_process
from ...models import Marketplace, OrderImport, ShopIntegration


class Command(BaseCommand):
    help = ("Import a marketplace order export (CSV/XLSX) for a brand and print the per-order report. "
            "Re-importing a file credits nothing twice.")

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--brand", required=True, help="Brand slug, e.g. demo")
        parser.add_argument("--marketplace", required=True, choices=Marketplace.values)
        parser.add_argument("--integration", type=int, help="Optional store (shop integration) id")

    def handle(self, *args, **options):
        brand = Brand.objects.filter(slug=options["brand"]).first()
        if brand is None:
            raise CommandError(f"No brand {options['brand']!r}.")
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No file {path}.")
        integration = None
        if options["integration"]:
            integration = ShopIntegration.objects.filter(pk=options["integration"], brand=brand).first()
            if integration is None:
                raise CommandError("No such integration for this brand.")
        try:
            created = order_import_create(brand=brand, marketplace=options["marketplace"], data=path.read_bytes(),
                                          filename=path.name, integration=integration)
        except DomainError as error:
            raise CommandError(f"{error.message} {error.fields}") from error
        # Eager Celery has processed it already; with a broker, this process does it now (resumable, idempotent).
        order_import_process(import_id=created.pk)
        order_import = OrderImport.objects.get(pk=created.pk)
        for row in order_import.rows.order_by("row_number"):
            self.stdout.write(f"  row {row.row_number:>4}  {row.order_id:<22} {row.get_status_display():<18} "
                              f"{row.points:>+6}  {row.message}")
        self.stdout.write(self.style.SUCCESS(
            f"Import {order_import.pk} {order_import.get_status_display()}: {order_import.processed_rows}/"
            f"{order_import.total_rows} orders; credited {order_import.credited_count}, already credited "
            f"{order_import.duplicate_count}, reversed {order_import.reversed_count}, pending "
            f"{order_import.pending_count}, skipped {order_import.skipped_count}, failed {order_import.failed_count}."))
        if order_import.error:
            self.stderr.write(order_import.error)

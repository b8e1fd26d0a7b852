from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from members.models import Brand

from ...demo import demo_receipts_write, receipt_demo_seed


class Command(BaseCommand):
    help = ("Set up receipt upload for a brand (auto-approving rule, its cafés as known stores) and write "
            "sample receipt photos to upload from the member portal.")

    def add_arguments(self, parser):
        parser.add_argument("--brand", default="demo")
        parser.add_argument("--out", default=str(Path(settings.VAR_DIR) / "sample-receipts"))

    def handle(self, *args, brand: str, out: str, **options):
        found = Brand.objects.filter(slug=brand).first()
        if found is None:
            raise CommandError(f"No brand {brand!r}: run `manage.py seed_demo` first.")
        receipt_demo_seed(found)
        for path in demo_receipts_write(Path(out)):
            self.stdout.write(f"  Sample receipt:     {path}")

from django.core.management.base import BaseCommand, CommandError

from loyalty.models import PointAccount
from loyalty.services.verification import CHECKS, ledger_mismatches


class Command(BaseCommand):
    help = "Prove balance == sum(entries), running balances and lot remainders for every account."

    def handle(self, *args, **options):
        mismatches = ledger_mismatches()
        for mismatch in mismatches:
            self.stderr.write(f"MISMATCH {mismatch}")
        if mismatches:
            raise CommandError(f"{len(mismatches)} ledger mismatches")
        self.stdout.write(self.style.SUCCESS(
            f"Ledger clean: {PointAccount.objects.count()} accounts, {len(CHECKS)} invariants checked."
        ))

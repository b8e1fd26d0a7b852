import json
import os

from django.core.management.base import BaseCommand

from members.demo import demo_seed


class Command(BaseCommand):
    help = "Load the demo brand (idempotent) and print its staff login, POS API key and LINE channel secret."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print one JSON object, for scripts.")

    def handle(self, *args, **options):
        credentials = demo_seed()
        if options["json"]:
            self.stdout.write(json.dumps(credentials, ensure_ascii=False))
            return
        self.stdout.write(self.style.SUCCESS("Demo brand ready."))
        base_url = os.environ.get("TAEM_BASE_URL", "http://127.0.0.1:8000")
        self.stdout.write(f"  Staff login:        {credentials['staff_username']} / {credentials['staff_password']}"
                          f"  ({base_url}/admin/)")
        self.stdout.write(f"  Cashier login:      {credentials['cashier_username']} / {credentials['cashier_password']}"
                          f"  ({base_url}/cashier/)")
        self.stdout.write(f"  Member portal:      {base_url}/liff/{credentials['brand_slug']}/")
        self.stdout.write(f"  POS API key:        {credentials['pos_api_key']}")
        self.stdout.write(f"  LINE channel secret: {credentials['line_channel_secret']}")
        self.stdout.write(f"  Brand / branches:   {credentials['brand_slug']} / {', '.join(credentials['branch_codes'])}")
        self.stdout.write(f"  Member codes:       {', '.join(credentials['member_codes'])}")
        self.stdout.write(f"  Web shop webhook:   POST {base_url}{credentials['webshop_webhook_path']}"
                          f"  secret {credentials['webshop_secret']}")
        self.stdout.write(f"  Marketplace import: {base_url}/admin/orders/orderimport/add/"
                          "  (samples in loyalty/orders/samples/)")

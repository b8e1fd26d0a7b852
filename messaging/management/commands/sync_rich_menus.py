from django.core.management.base import BaseCommand, CommandError

from members.models import Brand
from messaging.rich_menus import rich_menus_sync


class Command(BaseCommand):
    help = "Create or update each brand's LINE rich menus (unregistered, member, per tier) and store their ids."

    def add_arguments(self, parser):
        parser.add_argument("--brand", help="brand slug (default: every active brand with a channel token)")

    def handle(self, *args, brand=None, **options):
        brands = Brand.objects.filter(is_active=True)
        if brand:
            brands = brands.filter(slug=brand)
            if not brands.exists():
                raise CommandError(f"No active brand {brand!r}")
        for item in brands:
            if not item.line_channel_access_token:
                self.stdout.write(f"{item.slug}: no channel access token, skipped")
                continue
            for menu in rich_menus_sync(brand=item):
                self.stdout.write(f"{item.slug}: {menu.key} → {menu.line_rich_menu_id}")

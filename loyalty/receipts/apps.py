from django.apps import AppConfig


class ReceiptsConfig(AppConfig):
    name = "loyalty.receipts"
    label = "receipts"

from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "loyalty.orders"
    label = "orders"

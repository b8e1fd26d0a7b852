from django.apps import AppConfig


class ClaimsConfig(AppConfig):
    name = "loyalty.claims"
    label = "claims"

from django.apps import AppConfig


class LiffFrontendConfig(AppConfig):
    name = "liff_frontend"

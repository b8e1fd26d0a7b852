"""Included at ``/liff/<brand_slug>/draws/`` inside the portal's ``liff`` namespace."""

from django.urls import path  # noqa: F401

app_name = "draws"

urlpatterns: list = []

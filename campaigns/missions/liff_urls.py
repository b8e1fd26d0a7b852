"""Included at ``/liff/<brand_slug>/missions/`` inside the portal's ``liff`` namespace."""

from django.urls import path  # noqa: F401

app_name = "missions"

urlpatterns: list = []

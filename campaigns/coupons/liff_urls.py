"""Included at ``/liff/<brand_slug>/coupons/`` inside the portal's ``liff`` namespace."""

from django.urls import path  # noqa: F401

app_name = "coupons"

urlpatterns: list = []

"""Included at ``/liff/<brand_slug>/leaderboards/`` inside the portal's ``liff`` namespace."""

from django.urls import path  # noqa: F401

app_name = "leaderboards"

urlpatterns: list = []

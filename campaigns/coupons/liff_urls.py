"""Included at ``/liff/<brand_slug>/offers/`` inside the portal's ``liff`` namespace."""

from django.urls import path

from . import views

app_name = "coupons"

urlpatterns = [
    path("", views.offers, name="offers"),
]

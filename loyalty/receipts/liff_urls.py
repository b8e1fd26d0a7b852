"""Included by liff_frontend.urls at /liff/<brand>/receipts/ (names live in the ``liff`` namespace)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.receipts_page, name="receipts"),
    path("status/", views.receipts_status, name="receipts-status"),
    path("<int:receipt_id>/image/", views.receipt_image, name="receipt-image"),
]

"""Included by liff_frontend.urls at ``/liff/<brand_slug>/claim/`` (namespace ``liff``)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.claim_page, name="claim"),
]

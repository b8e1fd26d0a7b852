"""Included at ``/liff/<brand_slug>/privacy/`` inside the portal's ``liff`` namespace."""

from django.urls import path

from . import views

app_name = "privacy"

urlpatterns = [
    path("", views.consent_centre, name="centre"),
    path("documents/<int:document_id>/", views.consent_document, name="document"),
    path("my-data/", views.my_data, name="my-data"),
    path("erase/", views.erase_account, name="erase"),
]

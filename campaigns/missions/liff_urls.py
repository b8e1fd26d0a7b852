"""Included at ``/liff/<brand_slug>/missions/`` inside the portal's ``liff`` namespace."""

from django.urls import path

from . import views

app_name = "missions"

urlpatterns = [
    path("", views.mission_list, name="list"),
    path("<int:mission_id>/", views.mission_detail, name="detail"),
    path("reviews/", views.review_products, name="reviews"),
    path("invite/", views.invite, name="invite"),
]

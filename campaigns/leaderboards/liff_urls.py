"""Included at ``/liff/<brand_slug>/races/`` inside the portal's ``liff`` namespace."""

from django.urls import path

from . import views

app_name = "leaderboards"

urlpatterns = [
    path("", views.races_home, name="home"),
    path("<int:race_id>/", views.race_page, name="race"),
]

"""Included at ``/liff/<brand_slug>/draws/`` inside the portal's ``liff`` namespace."""

from django.urls import path

from . import views

app_name = "draws"

urlpatterns = [
    path("", views.draw_list, name="list"),
    path("<int:draw_id>/", views.draw_page, name="draw"),
]

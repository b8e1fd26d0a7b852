"""Included at ``/liff/<brand_slug>/activity/`` inside the portal's ``liff`` namespace."""

from django.urls import path

from . import views

app_name = "activity"

urlpatterns = [
    path("", views.activity_home, name="home"),
    path("check-in/", views.check_in_page, name="check-in"),
    path("surveys/<int:survey_id>/", views.survey_page, name="survey"),
]

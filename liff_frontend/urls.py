from django.urls import path

from . import views

app_name = "liff"

urlpatterns = [path("<slug:brand_slug>/session/", views.liff_session, name="session")]

from django.urls import path

from .webhook import line_webhook

app_name = "line"

urlpatterns = [path("webhook/<slug:brand_slug>/", line_webhook, name="webhook")]

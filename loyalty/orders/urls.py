"""Included at ``/integrations/`` (machines, not people: signed webhooks)."""

from django.urls import path

from .webhook import order_webhook

app_name = "orders"

urlpatterns = [
    path("orders/<int:integration_id>/", order_webhook, name="order-webhook"),
]

"""Demo data for the orders app, called from ``members.demo.demo_seed`` (idempotent).

The demo web shop's signing secret is derived from SECRET_KEY (stable per installation,
never in the repository), so ``seed_demo`` can print it for trying the webhook.
"""

from members.models import Brand

from .models import ShopIntegration


def demo_orders_seed(*, brand: Brand, derived_secret) -> dict:
    """A web shop and a Shopee store for ``brand``; returns what ``seed_demo`` prints."""
    secret = f"whsec_demo_{derived_secret('orders-webshop-secret', 40)}"
    webshop, _ = ShopIntegration.objects.get_or_create(brand=brand, name="Demo web shop",
                                                       defaults={"kind": ShopIntegration.Kind.WEBSHOP})
    if webshop.secret != secret:
        webshop.secret = secret
        webshop.save(update_fields=["secret", "updated_at"])
    ShopIntegration.objects.get_or_create(brand=brand, name="Taem Café Shopee", defaults={"kind": "shopee"})
    return {"webshop_integration_id": webshop.pk, "webshop_secret": secret,
            "webshop_webhook_path": f"/integrations/orders/{webshop.pk}/"}

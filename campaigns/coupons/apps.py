from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CouponCampaignsConfig(AppConfig):
    name = "campaigns.coupons"
    label = "coupon_campaigns"
    verbose_name = _("Coupon campaigns")

    def ready(self) -> None:
        from . import subscribers  # noqa: F401 - registers the domain-event subscribers

from django.urls import include, path

from . import portal, views

app_name = "liff"

urlpatterns = [
    path("<slug:brand_slug>/session/", views.liff_session, name="session"),
    path("<slug:brand_slug>/", portal.home, name="home"),
    path("<slug:brand_slug>/register/", portal.register, name="register"),
    path("<slug:brand_slug>/consents/", portal.consents, name="consents"),
    path("<slug:brand_slug>/card/", portal.member_card, name="card"),
    path("<slug:brand_slug>/card/qr/", portal.member_card_qr, name="card-qr"),
    path("<slug:brand_slug>/points/", portal.points, name="points"),
    path("<slug:brand_slug>/tier/", portal.tier, name="tier"),
    path("<slug:brand_slug>/rewards/", portal.rewards, name="rewards"),
    path("<slug:brand_slug>/rewards/<int:reward_id>/redeem/", portal.reward_redeem_page, name="redeem"),
    path("<slug:brand_slug>/coupons/", portal.coupons, name="coupons"),
    path("<slug:brand_slug>/profile/", portal.profile, name="profile"),
    path("<slug:brand_slug>/embed/card/", portal.embed_card, name="embed-card"),
    path("<slug:brand_slug>/receipts/", include("loyalty.receipts.liff_urls")),
    path("<slug:brand_slug>/claim/", include("loyalty.claims.liff_urls")),
    path("<slug:brand_slug>/activity/", include("loyalty.activity.liff_urls")),
    path("<slug:brand_slug>/missions/", include("campaigns.missions.liff_urls")),
    path("<slug:brand_slug>/draws/", include("campaigns.draws.liff_urls")),
    path("<slug:brand_slug>/races/", include("campaigns.leaderboards.liff_urls")),
    path("<slug:brand_slug>/offers/", include("campaigns.coupons.liff_urls")),
    path("<slug:brand_slug>/privacy/", include("consent.liff_urls")),
]

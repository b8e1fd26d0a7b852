from django.urls import path, re_path

from . import views

app_name = "api-v1"

urlpatterns = [
    path("purchases/", views.PurchaseCreateView.as_view(), name="purchase-create"),
    path("purchases/<int:purchase_id>/refund/", views.PurchaseRefundView.as_view(), name="purchase-refund"),
    path("member-cards/verify/", views.MemberCardVerifyView.as_view(), name="member-card-verify"),
    path("members/<str:code>/", views.MemberDetailView.as_view(), name="member-detail"),
    path("members/<str:code>/ledger/", views.MemberLedgerView.as_view(), name="member-ledger"),
    path("rewards/", views.RewardListView.as_view(), name="reward-list"),
    path("redemptions/", views.RedemptionCreateView.as_view(), name="redemption-create"),
    path("coupons/<str:code>/", views.CouponDetailView.as_view(), name="coupon-detail"),
    path("coupons/<str:code>/use/", views.CouponUseView.as_view(), name="coupon-use"),
    re_path(r"^.*$", views.no_route),  # unknown URLs still answer the JSON error shape
]

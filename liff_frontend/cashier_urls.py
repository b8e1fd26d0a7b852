from django.contrib.auth import views as auth_views
from django.urls import path

from . import cashier

app_name = "cashier"

urlpatterns = [
    path("", cashier.home, name="home"),
    path("login/", cashier.CashierLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="/cashier/login/"), name="logout"),
    path("branch/", cashier.choose_branch, name="branch"),
    path("identify/", cashier.identify, name="identify"),
    path("clear/", cashier.clear_member, name="clear"),
    path("preview/", cashier.preview, name="preview"),
    path("award/", cashier.award, name="award"),
    path("coupon/check/", cashier.coupon_check, name="coupon-check"),
    path("coupon/", cashier.coupon, name="coupon"),
    path("void/<int:award_id>/", cashier.void, name="void"),
]

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.health import healthz

admin.site.site_header = "Taem · แต้ม"
admin.site.site_title = "Taem"
admin.site.index_title = "Loyalty administration"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("loyalty.api.urls")),
    path("line/", include("messaging.urls")),
    path("liff/", include("liff_frontend.urls")),
    path("cashier/", include("liff_frontend.cashier_urls")),
    path("integrations/", include("loyalty.orders.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

"""Admin for expiry (issue 7): the points liability report, job runs and expiry reminders.

The liability report hangs off the point currency admin (a button on its changelist), so
``PointCurrencyAdmin`` is re-registered here as a subclass that adds the two views.
"""

import csv

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.admin_base import ReadOnlyAdmin
from members.models import Brand
from members.selectors import brand_ids_for_user

from .admin import PointCurrencyAdmin
from .models import ExpiryReminder, JobRun, PointCurrency
from .services.expiry import points_liability


def liability_brand_ids(request) -> list[int] | None:
    """The brands whose liability the user may see (None: all, for superusers), narrowed by ``?brand=``."""
    allowed = None if request.user.is_superuser else brand_ids_for_user(request.user)
    chosen = request.GET.get("brand", "")
    if chosen.isdigit():
        chosen_id = int(chosen)
        if allowed is not None and chosen_id not in allowed:
            raise PermissionDenied
        return [chosen_id]
    return allowed


class LiabilityPointCurrencyAdmin(PointCurrencyAdmin):
    change_list_template = "admin/loyalty/liability_changelist.html"

    def get_urls(self):
        return [
            path("liability/", self.admin_site.admin_view(self.liability_view), name="loyalty_pointcurrency_liability"),
            path("liability.csv", self.admin_site.admin_view(self.liability_csv_view),
                 name="loyalty_pointcurrency_liability_csv"),
            *super().get_urls(),
        ]

    def _liability(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return points_liability(brand_ids=liability_brand_ids(request))

    def liability_view(self, request):
        liability = self._liability(request)
        brands = Brand.objects.order_by("name")
        if not request.user.is_superuser:
            brands = brands.filter(pk__in=brand_ids_for_user(request.user))
        context = {
            **self.admin_site.each_context(request), "title": _("Points liability"), "opts": self.model._meta,
            "liability": liability, "brands": brands, "chosen_brand": request.GET.get("brand", ""),
        }
        return TemplateResponse(request, "admin/loyalty/liability.html", context)

    def liability_csv_view(self, request):
        liability = self._liability(request)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="points-liability.csv"'
        response.write("\ufeff")  # so spreadsheet programs read the Thai text as UTF-8
        writer = csv.writer(response)
        writer.writerow(["currency", "expiry_month", "points", "accounts", "thb_per_point", "value_thb"])
        for currency in liability.currencies:
            for row in currency.rows:
                writer.writerow([currency.code, row.month.strftime("%Y-%m") if row.month else "never",
                                 row.points, row.accounts, currency.point_value, row.value])
            writer.writerow([currency.code, "total", currency.points, "", currency.point_value, currency.value])
        writer.writerow(["", "total", "", "", "", liability.value])
        return response


admin.site.unregister(PointCurrency)
admin.site.register(PointCurrency, LiabilityPointCurrencyAdmin)


@admin.register(ExpiryReminder)
class ExpiryReminderAdmin(ReadOnlyAdmin):
    brand_path = "account__brand"
    list_display = ["account", "member", "points", "expires_on", "created_at", "sent_at"]
    list_filter = ["account__brand", "expires_on"]
    search_fields = ["member__code", "member__phone"]
    list_select_related = ["account__member", "account__currency", "member"]
    date_hierarchy = "expires_on"


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    """Nightly jobs run over every brand, so only superusers see them."""

    list_display = ["job", "run_key", "started_at", "finished_at", "rows", "seconds"]
    list_filter = ["job"]
    readonly_fields = ["job", "run_key", "started_at", "finished_at", "rows", "details"]

    def get_queryset(self, request):
        return JobRun.objects.all() if request.user.is_superuser else JobRun.objects.none()

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_module_permission(self, request):
        return request.user.is_superuser

    @admin.display(description=gettext_lazy("seconds"))
    def seconds(self, obj):
        if obj.finished_at is None:
            return "-"
        return f"{(obj.finished_at - obj.started_at).total_seconds():.2f}"

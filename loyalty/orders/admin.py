"""Staff pages: shop integrations (secret shown once), pending orders, and marketplace
imports (upload form, progress bar, per-order report). Every page is brand-scoped."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from config.domain import DomainError
from members.admin_base import BrandScopedAdmin, ReadOnlyAdmin
from members.models import Brand
from members.selectors import brands_for_user

from .imports import order_file_check, order_import_create, order_import_previous, order_import_retry
from .models import Marketplace, OrderImport, OrderImportRow, PendingOrder, ShopIntegration
from .services import shop_integration_create, shop_integration_rotate_secret

REPORT_ROWS_SHOWN = 500


def _show_secret_once(request, integration: ShopIntegration) -> None:
    url = request.build_absolute_uri(reverse("orders:order-webhook", args=[integration.pk]))
    messages.warning(request, _("The signing secret is shown once; copy it now: %(secret)s — webhook URL: %(url)s")
                     % {"secret": integration.secret, "url": url})


@admin.register(ShopIntegration)
class ShopIntegrationAdmin(BrandScopedAdmin):
    list_display = ["name", "kind", "brand", "is_active", "webhook_path", "created_at"]
    list_filter = ["brand", "kind", "is_active"]
    search_fields = ["name"]
    fields = ["brand", "name", "kind", "match_email", "is_active", "webhook_path", "created_by", "created_at"]
    readonly_fields = ["webhook_path", "created_by", "created_at"]
    actions = ["rotate_secret"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "brand"] if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # its orders keep pointing at it: deactivate instead

    @admin.display(description=_("Webhook URL"))
    def webhook_path(self, obj):
        return reverse("orders:order-webhook", args=[obj.pk]) if obj.pk else "—"

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        created = shop_integration_create(brand=obj.brand, name=obj.name, kind=obj.kind,
                                          match_email=obj.match_email, created_by=request.user)
        if not obj.is_active:
            ShopIntegration.objects.filter(pk=created.pk).update(is_active=False)
        obj.pk, obj.secret, obj.created_at = created.pk, created.secret, created.created_at
        obj._state.adding = False
        _show_secret_once(request, created)

    @admin.action(description=_("Replace the signing secret (shown once)"))
    def rotate_secret(self, request, queryset):
        if not request.user.has_perm("orders.change_shopintegration"):
            messages.error(request, _("You may not change integrations."))
            return
        for integration in queryset:
            shop_integration_rotate_secret(integration=integration)
            _show_secret_once(request, integration)


@admin.register(PendingOrder)
class PendingOrderAdmin(ReadOnlyAdmin):
    list_display = ["order_key", "status", "total", "phone", "email", "line_user_id", "member", "source",
                    "created_at"]
    list_filter = ["brand", "status", "source", "channel"]
    search_fields = ["order_key", "order_id", "phone", "email", "line_user_id"]
    list_select_related = ["member"]
    date_hierarchy = "created_at"


class OrderImportForm(forms.ModelForm):
    upload = forms.FileField(label=_("Order export (CSV or XLSX)"),
                             help_text=_("As exported from the seller centre; at most 10 MB. See the column "
                                         "mapping in the documentation."))

    class Meta:
        model = OrderImport
        fields = ["brand", "marketplace", "integration"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        brands = brands_for_user(user) if user is not None else Brand.objects.none()
        self.fields["brand"].queryset = brands
        self.fields["integration"].queryset = ShopIntegration.objects.filter(
            brand__in=brands, kind__in=Marketplace.values, is_active=True)
        self.fields["integration"].required = False
        self.fields["integration"].help_text = _("Optional: the store these orders belong to.")
        if brands.count() == 1:
            self.fields["brand"].initial = brands.first()

    def clean(self):
        cleaned = super().clean()
        brand, marketplace, integration = cleaned.get("brand"), cleaned.get("marketplace"), cleaned.get("integration")
        if integration is not None and (integration.brand_id != getattr(brand, "pk", None)
                                        or integration.kind != marketplace):
            self.add_error("integration", _("Choose a store of this brand on this marketplace."))
        upload = cleaned.get("upload")
        if upload is not None and marketplace:
            if upload.size > 10 * 1024 * 1024:
                self.add_error("upload", _("The file is larger than 10 MB."))
                return cleaned
            data = upload.read()
            try:
                check = order_file_check(marketplace=marketplace, data=data)
            except DomainError as error:
                for problems in (error.fields or {"upload": [error.message]}).values():
                    for problem in problems:
                        self.add_error("upload", problem)
            else:
                cleaned["data"], cleaned["check"] = data, check
        return cleaned


@admin.register(OrderImport)
class OrderImportAdmin(BrandScopedAdmin):
    list_display = ["created_at", "marketplace", "original_name", "status", "progress_text", "credited_count",
                    "reversed_count", "pending_count", "skipped_count", "failed_count", "created_by"]
    list_filter = ["brand", "marketplace", "status"]
    search_fields = ["original_name", "sha256", "rows__order_id"]
    list_select_related = ["created_by"]
    actions = ["process_again"]
    change_form_template = "admin/orders/orderimport/change_form.html"
    readonly_fields = ["brand", "marketplace", "integration", "original_name", "sha256", "status", "progress",
                       "total_rows", "processed_rows", "credited_count", "duplicate_count", "reversed_count",
                       "pending_count", "skipped_count", "failed_count", "error", "created_by", "created_at",
                       "started_at", "finished_at", "same_file", "report"]
    fieldsets = [
        (None, {"fields": ["brand", "marketplace", "integration", "original_name", "status", "progress", "error"]}),
        (_("Results"), {"fields": [("credited_count", "duplicate_count", "reversed_count"),
                                   ("pending_count", "skipped_count", "failed_count"),
                                   ("total_rows", "processed_rows")]}),
        (_("File"), {"fields": ["sha256", "same_file", "created_by", "created_at", "started_at", "finished_at"]}),
        (_("Report"), {"fields": ["report"]}),
    ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            return super().get_form(request, obj, change=change, **kwargs)
        user = request.user

        class UploadForm(OrderImportForm):
            def __init__(self, *args, **inner):
                super().__init__(*args, user=user, **inner)

        return UploadForm

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["brand", "marketplace", "integration", "upload"]})]
        return self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # the report explains points: keep it

    def save_model(self, request, obj, form, change):
        upload = form.cleaned_data["upload"]
        created = order_import_create(brand=form.cleaned_data["brand"], marketplace=form.cleaned_data["marketplace"],
                                      integration=form.cleaned_data.get("integration"), data=form.cleaned_data["data"],
                                      filename=upload.name, created_by=request.user)
        for field in OrderImport._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding = False
        previous = order_import_previous(order_import=created)
        if previous is not None:
            messages.info(request, _("This file was imported before (%(when)s). Orders credited then are not "
                                     "credited again.") % {"when": previous.created_at.strftime("%Y-%m-%d %H:%M")})

    def save_related(self, request, form, formsets, change):
        pass

    def response_add(self, request, obj, post_url_continue=None):
        return HttpResponseRedirect(reverse("admin:orders_orderimport_change", args=[obj.pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order_import = self.get_queryset(request).filter(pk=object_id).first()
        extra_context = {**(extra_context or {}),
                         "refresh_seconds": 2 if order_import is not None and not order_import.is_finished else 0}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description=_("Process failed imports again (resumes after the reported orders)"))
    def process_again(self, request, queryset):
        if not request.user.has_perm("orders.add_orderimport"):
            messages.error(request, _("You may not import orders."))
            return
        count = sum(order_import_retry(order_import=order_import) for order_import in queryset)
        self.message_user(request, _("%(count)d imports queued again.") % {"count": count})

    @admin.display(description=_("Progress"))
    def progress_text(self, obj):
        return f"{obj.processed_rows}/{obj.total_rows}"

    @admin.display(description=_("Progress"))
    def progress(self, obj):
        return format_html('<progress value="{}" max="{}" data-testid="import-progress">{}%</progress> {} / {} ({}%)',
                           obj.processed_rows, obj.total_rows or 1, obj.percent, obj.processed_rows, obj.total_rows,
                           obj.percent)

    @admin.display(description=_("Earlier imports of this file"))
    def same_file(self, obj):
        earlier = (OrderImport.objects.filter(brand_id=obj.brand_id, sha256=obj.sha256).exclude(pk=obj.pk)
                   .order_by("-pk")[:5])
        if not earlier:
            return "—"
        return format_html_join(", ", '<a href="{}">{}</a>', (
            (reverse("admin:orders_orderimport_change", args=[other.pk]), other.created_at.strftime("%Y-%m-%d %H:%M"))
            for other in earlier))

    @admin.display(description=_("Per-order report"))
    def report(self, obj):
        rows = list(obj.rows.select_related("member").order_by("row_number")[:REPORT_ROWS_SHOWN])
        if not rows:
            return "—"
        body = format_html_join("", '<tr class="import-row-{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
                                    "<td>{}</td><td>{}</td></tr>", (
            (row.status, row.row_number, row.order_id, row.get_status_display(), row.points or "", row.member or "",
             row.message) for row in rows))
        more = ""
        total = obj.rows.count()
        if total > REPORT_ROWS_SHOWN:
            url = reverse("admin:orders_orderimportrow_changelist") + f"?order_import__id__exact={obj.pk}"
            more = format_html('<p><a href="{}">{}</a></p>', url, _("All %(count)d rows") % {"count": total})
        header = format_html("<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
                             _("Row"), _("Order ID"), _("Result"), _("Points"), _("Member"), _("Message"))
        return format_html('<table data-testid="import-report"><thead>{}</thead><tbody>{}</tbody></table>{}',
                           header, body, more)


@admin.register(OrderImportRow)
class OrderImportRowAdmin(ReadOnlyAdmin):
    brand_path = "order_import__brand"
    list_display = ["order_import", "row_number", "order_id", "status", "points", "member", "message"]
    list_filter = ["status", "order_import"]
    search_fields = ["order_id", "message"]
    list_select_related = ["order_import", "member"]

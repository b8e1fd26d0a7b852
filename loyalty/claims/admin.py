"""Admin for claim code batches (create, download CSV/PDF labels) and the claimed-codes list.

Batches are created by ``claim_batch_create`` (the add form calls it), then the change page
offers the downloads. Downloads need the ``claims.download_claim_codes`` permission and a
batch of one of the user's brands, and each one is written to the admin log.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from config.domain import ValidationFailed
from members.admin_base import BrandScopedAdmin, ReadOnlyAdmin

from . import exports, selectors
from .codes import code_digest, code_is_well_formed, code_normalise
from .models import MAX_BATCH_QUANTITY, ClaimBatch, ClaimCode
from .services import claim_batch_create, claim_batch_validate

DOWNLOAD_PERMISSION = "claims.download_claim_codes"


class ClaimBatchForm(forms.ModelForm):
    class Meta:
        model = ClaimBatch
        fields = ["brand", "currency", "name", "points", "sku", "campaign", "valid_from", "valid_until",
                  "per_member_limit", "quantity"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "quantity" in self.fields:
            self.fields["quantity"].min_value = 1
            self.fields["quantity"].widget.attrs.update(min=1, max=MAX_BATCH_QUANTITY)
            self.fields["quantity"].help_text = _("At most 100,000 codes per batch.")

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk:  # brand, currency, points and quantity are fixed once the codes exist
            values = {name: getattr(self.instance, name) for name in ("brand", "currency", "points", "quantity")}
        else:
            values = {name: cleaned.get(name) for name in ("brand", "currency", "points", "quantity")}
        if any(value is None for value in values.values()) or not cleaned.get("valid_from"):
            return cleaned  # a required field is missing: its own error is shown
        try:
            claim_batch_validate(**values, valid_from=cleaned["valid_from"], valid_until=cleaned.get("valid_until"),
                                 per_member_limit=cleaned.get("per_member_limit"))
        except ValidationFailed as error:
            for name, problems in error.fields.items():
                for problem in problems:
                    self.add_error(name if name in self.fields else None, problem)
        return cleaned


@admin.register(ClaimBatch)
class ClaimBatchAdmin(BrandScopedAdmin):
    form = ClaimBatchForm
    list_display = ["name", "brand", "points", "currency", "quantity", "claimed", "valid_from", "valid_until",
                    "created_at"]
    list_filter = ["brand"]
    search_fields = ["name", "sku", "campaign"]
    list_select_related = ["brand", "currency"]
    date_hierarchy = "created_at"
    # Fixed once the codes exist: printed labels carry them.
    fixed_after_creation = ["brand", "currency", "points", "quantity"]

    def get_queryset(self, request):
        return selectors.claim_batches_with_counts(super().get_queryset(request).defer("secret"))

    def has_delete_permission(self, request, obj=None):
        return False  # printed codes stay explainable; end a batch by setting "valid until"

    def _shown_after_creation(self, request) -> list[str]:
        shown = ["claimed", "remaining", "created_by", "created_at"]
        return [*shown, "downloads"] if request.user.has_perm(DOWNLOAD_PERMISSION) else shown

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [*self.fixed_after_creation, *self._shown_after_creation(request)]

    def get_fields(self, request, obj=None):
        fields = ["brand", "currency", "name", "points", "sku", "campaign", "valid_from", "valid_until",
                  "per_member_limit", "quantity"]
        return fields if obj is None else [*fields, *self._shown_after_creation(request)]

    @admin.display(description=_("claimed"))
    def claimed(self, obj):
        if hasattr(obj, "claimed_count"):
            return obj.claimed_count
        return selectors.claim_batch_claimed_count(batch=obj)

    @admin.display(description=_("remaining"))
    def remaining(self, obj):
        return obj.quantity - self.claimed(obj)

    @admin.display(description=_("downloads"))
    def downloads(self, obj):
        csv_url = reverse("admin:claims_claimbatch_csv", args=[obj.pk])
        links = [(csv_url, "csv", _("Codes (CSV)"))]
        for first, last in exports.pdf_parts(obj):
            url = f"{reverse('admin:claims_claimbatch_pdf', args=[obj.pk])}?start={first}"
            links.append((url, f"pdf-{first}", _("QR labels %(first)s–%(last)s (PDF)") % {"first": first, "last": last}))
        return format_html_join(" ", '<a class="button" href="{}" data-download="{}">{}</a>', links)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        batch, _codes = claim_batch_create(
            brand=data["brand"], currency=data["currency"], name=data["name"], points=data["points"],
            quantity=data["quantity"], valid_from=data["valid_from"], valid_until=data.get("valid_until"),
            per_member_limit=data.get("per_member_limit"), sku=data.get("sku", ""),
            campaign=data.get("campaign", ""), created_by=request.user)
        # The admin goes on with the form's instance (log entry, redirect): give it the batch's row.
        obj.pk, obj.secret, obj.created_by = batch.pk, batch.secret, batch.created_by
        obj.created_at, obj.updated_at = batch.created_at, batch.updated_at
        obj._state.adding = False
        obj._state.db = batch._state.db

    def response_add(self, request, obj, post_url_continue=None):
        messages.success(request, _("Created %(count)s codes. Download them as CSV or as PDF labels below; you can "
                                    "download them again later.") % {"count": f"{obj.quantity:,}"})
        return redirect("admin:claims_claimbatch_change", obj.pk)

    def get_urls(self):
        return [
            path("<int:batch_id>/codes.csv", self.admin_site.admin_view(self.csv_view),
                 name="claims_claimbatch_csv"),
            path("<int:batch_id>/labels.pdf", self.admin_site.admin_view(self.pdf_view),
                 name="claims_claimbatch_pdf"),
            *super().get_urls(),
        ]

    def _downloadable(self, request, batch_id: int) -> ClaimBatch:
        """The batch, if it is one of the user's brands and they may download codes."""
        batch = get_object_or_404(super().get_queryset(request).select_related("brand"), pk=batch_id)
        if not request.user.has_perm(DOWNLOAD_PERMISSION):
            raise PermissionDenied
        return batch

    def csv_view(self, request, batch_id: int):
        batch = self._downloadable(request, batch_id)
        self.log_change(request, batch, "Downloaded the codes (CSV).")
        response = StreamingHttpResponse(exports.csv_lines(batch), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="claim-codes-{batch.brand.slug}-{batch.pk}.csv"'
        response["Cache-Control"] = "no-store"
        return response

    def pdf_view(self, request, batch_id: int):
        batch = self._downloadable(request, batch_id)
        try:
            start = max(1, int(request.GET.get("start", "1")))
        except ValueError:
            start = 1
        if start > batch.quantity:
            start = 1
        last = min(batch.quantity, start + exports.PDF_MAX_LABELS - 1)
        self.log_change(request, batch, f"Downloaded QR labels {start}-{last} (PDF).")
        response = HttpResponse(exports.labels_pdf(batch, start=start), content_type="application/pdf")
        response["Content-Disposition"] = (
            f'attachment; filename="claim-labels-{batch.brand.slug}-{batch.pk}-{start}-{last}.pdf"')
        response["Cache-Control"] = "no-store"
        return response


class ClaimedFilter(admin.SimpleListFilter):
    title = _("claimed")
    parameter_name = "claimed"

    def lookups(self, request, model_admin):
        return [("yes", _("Claimed")), ("no", _("Not claimed"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(claimed_by__isnull=self.value() == "no")
        return queryset


@admin.register(ClaimCode)
class ClaimCodeAdmin(ReadOnlyAdmin):
    """Codes by label number and claim; never the code itself (only its digest is stored).

    Searching for a whole code finds it by its digest; member code and phone find claims.
    """

    brand_path = "batch__brand"
    list_display = ["number", "batch", "claimed_by", "claimed_at", "ledger_entry"]
    list_filter = [ClaimedFilter]
    search_fields = ["claimed_by__code", "claimed_by__phone"]
    list_select_related = ["batch", "claimed_by", "ledger_entry"]
    exclude = ["code_digest"]
    show_full_result_count = False  # millions of codes: no second COUNT(*)

    def get_search_results(self, request, queryset, search_term):
        normalised = code_normalise(search_term)
        if code_is_well_formed(normalised):
            return queryset.filter(code_digest=code_digest(normalised)), False
        return super().get_search_results(request, queryset, search_term)


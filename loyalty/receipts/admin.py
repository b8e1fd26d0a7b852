"""Receipt rules, stores and the staff review queue (brand-scoped).

The receipt page in admin is a review page, not a model form: staff correct the fields
and press approve or reject, which call ``receipt_approve`` / ``receipt_reject``, so a
decision in admin obeys the same locks, duplicate checks and ledger rules as the
automatic one. Nothing else in admin writes a receipt.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Value, When
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from config.domain import DomainError
from members.admin_base import BrandScopedAdmin, SameBrandForm
from members.models import Branch

from .models import Receipt, ReceiptRule, ReceiptStore
from .services import receipt_approve, receipt_reject

REVIEW_REASONS = {
    "auto_approve_off": _("automatic approval is off"),
    "store_unknown": _("store not recognised"),
    "total_unread": _("total not read"), "total_unsure": _("total unsure"),
    "date_unread": _("date not read"), "date_unsure": _("date unsure"),
    "number_unread": _("receipt number not read"), "number_unsure": _("receipt number unsure"),
    "date_in_future": _("date in the future"), "too_old": _("older than allowed"),
    "total_out_of_limits": _("total above the automatic limit"),
    "daily_limit": _("member's automatic approvals for today used up"),
    "number_pending_elsewhere": _("same number on another receipt waiting"),
    "number_already_approved": _("number already approved"),
    "ocr_failed": _("OCR could not run"), "duplicate": _("duplicate"),
}


@admin.register(ReceiptRule)
class ReceiptRuleAdmin(BrandScopedAdmin):
    list_display = ["brand", "is_active", "auto_approve", "min_confidence", "max_total", "max_age_days",
                    "max_auto_approved_per_day", "max_uploads_per_day"]

    def get_readonly_fields(self, request, obj=None):
        return ["brand"] if obj else []


class ReceiptStoreForm(SameBrandForm):
    same_brand = {"branch": _("The branch must belong to the store's brand.")}

    class Meta:
        model = ReceiptStore
        fields = ["brand", "name", "aliases", "branch", "is_active"]


@admin.register(ReceiptStore)
class ReceiptStoreAdmin(BrandScopedAdmin):
    form = ReceiptStoreForm
    list_display = ["name", "branch", "brand", "is_active"]
    list_filter = ["brand", "is_active"]
    search_fields = ["name", "aliases"]

    def get_readonly_fields(self, request, obj=None):
        return ["brand"] if obj else []


class ReviewForm(forms.Form):
    store = forms.ModelChoiceField(label=_("Store"), queryset=ReceiptStore.objects.none(), required=False)
    branch = forms.ModelChoiceField(label=_("Branch"), queryset=Branch.objects.none(), required=False)
    receipt_date = forms.DateField(label=_("Receipt date"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}))
    receipt_number = forms.CharField(label=_("Receipt number"), max_length=64, required=False)
    total = forms.DecimalField(label=_("Total (THB)"), max_digits=12, decimal_places=2, min_value=0, required=False)
    reason = forms.CharField(label=_("Reason (shown to the member when rejecting)"), required=False,
                             widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def __init__(self, *args, receipt: Receipt, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = ReceiptStore.objects.filter(brand_id=receipt.brand_id, is_active=True)
        self.fields["branch"].queryset = Branch.objects.filter(brand_id=receipt.brand_id)


def receipt_review_order():
    return Case(When(status=Receipt.Status.NEEDS_REVIEW, then=Value(0)),
                When(status__in=(Receipt.Status.QUEUED, Receipt.Status.PROCESSING), then=Value(1)),
                default=Value(2), output_field=IntegerField())


@admin.register(Receipt)
class ReceiptAdmin(BrandScopedAdmin):
    list_display = ["id", "thumbnail", "status", "member", "store_display", "receipt_date", "total", "receipt_number",
                    "confidence_display", "created_at"]
    list_display_links = ["id", "status"]
    list_filter = ["status", "brand", "store"]
    search_fields = ["receipt_number", "store_text", "member__code", "member__phone"]
    list_select_related = ["member", "store"]
    date_hierarchy = "created_at"

    def get_ordering(self, request):
        # Waiting for review first (oldest first: fair to members), then the rest.
        return [receipt_review_order().asc(), "created_at", "pk"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("store"))
    def store_display(self, obj):
        return obj.store.name if obj.store else obj.store_text

    @admin.display(description=_("confidence (total/date/number/store)"))
    def confidence_display(self, obj):
        values = (obj.total_confidence, obj.date_confidence, obj.number_confidence, obj.store_confidence)
        return " / ".join("–" if value is None else str(value) for value in values)

    def get_urls(self):
        return [
            path("<int:receipt_id>/image/", self.admin_site.admin_view(self.image_view), name="receipts_receipt_image"),
            *super().get_urls(),
        ]

    def image_view(self, request, receipt_id: int):
        receipt = get_object_or_404(self.get_queryset(request), pk=receipt_id)
        if not self.has_view_permission(request, receipt) or not receipt.image:
            raise Http404
        response = FileResponse(receipt.image.open("rb"), content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=3600"
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The review page: image, what OCR read, and approve / reject through the services."""
        receipt = get_object_or_404(self.get_queryset(request).select_related(
            "member", "store", "branch", "purchase", "decided_by", "duplicate_of"), pk=object_id)
        if not self.has_view_permission(request, receipt):
            raise PermissionDenied
        can_decide = self.has_change_permission(request, receipt)
        initial = {"store": receipt.store_id, "branch": receipt.branch_id, "receipt_date": receipt.receipt_date,
                   "receipt_number": receipt.receipt_number, "total": receipt.total}
        form = ReviewForm(request.POST or None, initial=initial, receipt=receipt)
        if request.method == "POST":
            if not can_decide:
                raise PermissionDenied
            if form.is_valid():
                response = self._decide(request, receipt, form)
                if response is not None:
                    return response
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": _("Review receipt"),
            "receipt": receipt, "form": form, "can_decide": can_decide,
            "image_url": reverse("admin:receipts_receipt_image", args=[receipt.pk]),
            "reasons": [REVIEW_REASONS.get(code, code) for code in receipt.review_reasons],
            "decidable": receipt.status in (Receipt.Status.NEEDS_REVIEW, Receipt.Status.REJECTED,
                                            Receipt.Status.APPROVED),
        }
        return TemplateResponse(request, "receipts/admin/review.html", context, status=400 if form.errors else 200)

    def _decide(self, request, receipt: Receipt, form: ReviewForm):
        data = form.cleaned_data
        try:
            if "_approve" in request.POST:
                receipt = receipt_approve(receipt=receipt, total=data["total"], receipt_date=data["receipt_date"],
                                          receipt_number=data["receipt_number"], branch=data["branch"],
                                          store=data["store"], staff_user=request.user)
                points = receipt.purchase.points_earned if receipt.purchase else 0
                messages.success(request, _("Receipt #%(id)s approved: %(points)s points.")
                                 % {"id": receipt.pk, "points": points})
            elif "_reject" in request.POST:
                receipt = receipt_reject(receipt=receipt, reason=data["reason"], staff_user=request.user)
                messages.success(request, _("Receipt #%(id)s rejected.") % {"id": receipt.pk})
            else:
                return None
        except DomainError as error:
            for field, problems in error.fields.items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
            if not error.fields:
                form.add_error(None, str(error.message))
            return None
        following = (self.get_queryset(request).filter(status=Receipt.Status.NEEDS_REVIEW)
                     .exclude(pk=receipt.pk).order_by("created_at", "pk").first())
        if following is not None:
            return redirect("admin:receipts_receipt_change", following.pk)
        return redirect("admin:receipts_receipt_changelist")

    @admin.display(description=_("image"))
    def thumbnail(self, obj):
        url = reverse("admin:receipts_receipt_image", args=[obj.pk])
        return format_html('<img src="{}" alt="" loading="lazy" style="max-height:64px">', url)

import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from config.domain import DomainError
from members.admin_base import BrandScopedAdmin, ReadOnlyAdmin, SameBrandForm

from .models import (
    CashierAction,
    Coupon,
    LedgerEntry,
    PointAccount,
    PointCurrency,
    Purchase,
    PurchaseLine,
    PurchaseRefund,
    Redemption,
    Reward,
)
from .services.ledger import points_adjust
from .services.redemption import reward_restock


@admin.register(PointCurrency)
class PointCurrencyAdmin(BrandScopedAdmin):
    list_display = ["code", "name", "brand", "is_default", "expiry_policy", "expiry_period", "point_value"]
    list_filter = ["brand"]


class AdjustmentForm(forms.Form):
    amount = forms.IntegerField(
        label=_("Points (+ to add, − to remove)"), help_text=_("For example 100 or -50."),
        min_value=-100_000_000, max_value=100_000_000,
    )
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError(_("Enter a non-zero number of points."))
        return amount


@admin.register(PointAccount)
class PointAccountAdmin(BrandScopedAdmin):
    list_display = ["member", "currency", "balance", "brand", "updated_at"]
    list_filter = ["brand", "currency"]
    search_fields = ["member__code", "member__phone", "member__first_name", "member__last_name"]
    readonly_fields = ["brand", "member", "currency", "balance", "adjust_link"]
    list_select_related = ["member", "currency", "brand"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # balances move only through the ledger: use "Adjust points"

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Manual adjustment"))
    def adjust_link(self, obj):
        url = reverse("admin:loyalty_pointaccount_adjust", args=[obj.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Adjust points"))

    def get_urls(self):
        return [
            path("<int:account_id>/adjust/", self.admin_site.admin_view(self.adjust_view),
                 name="loyalty_pointaccount_adjust"),
            *super().get_urls(),
        ]

    def adjust_view(self, request, account_id: int):
        account = get_object_or_404(self.get_queryset(request), pk=account_id)
        if not self.has_view_permission(request, account) or not request.user.has_perm("loyalty.add_ledgerentry"):
            raise PermissionDenied
        form = AdjustmentForm(request.POST or None, initial={"request_key": uuid.uuid4().hex})
        if request.method == "POST" and form.is_valid():
            try:
                entry = points_adjust(account=account, amount=form.cleaned_data["amount"], staff_user=request.user,
                                      reason=form.cleaned_data["reason"],
                                      request_key=form.cleaned_data["request_key"])
            except DomainError as error:
                form.add_error(None, str(error.message))
            else:
                messages.success(request, _("Adjusted %(amount)+d points; balance is now %(balance)d.")
                                 % {"amount": entry.amount, "balance": entry.balance_after})
                return redirect("admin:loyalty_pointaccount_change", account.pk)
        context = {**self.admin_site.each_context(request), "title": _("Adjust points"), "form": form,
                   "account": account, "opts": self.model._meta}
        return TemplateResponse(request, "admin/loyalty/adjust_points.html", context)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "account", "kind", "channel", "amount", "balance_after", "staff_user",
                    "reference"]
    list_filter = ["brand", "kind", "channel"]
    search_fields = ["idempotency_key", "reference", "account__member__code", "account__member__phone"]
    list_select_related = ["account__member", "account__currency", "staff_user"]
    date_hierarchy = "created_at"


class PurchaseLineInline(admin.TabularInline):
    model = PurchaseLine
    extra = 0
    can_delete = False
    readonly_fields = ["sku", "category", "quantity", "amount"]

    def has_add_permission(self, request, obj=None):
        return False


class PurchaseRefundInline(admin.TabularInline):
    model = PurchaseRefund
    extra = 0
    can_delete = False
    readonly_fields = ["refund_id", "amount", "points_reversed", "points_shortfall", "created_at"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Purchase)
class PurchaseAdmin(ReadOnlyAdmin):
    list_display = ["order_id", "member", "branch", "channel", "total", "points_earned", "status", "purchased_at"]
    list_filter = ["brand", "channel", "status", "branch"]
    search_fields = ["order_id", "member__code", "member__phone"]
    list_select_related = ["member", "branch"]
    inlines = [PurchaseLineInline, PurchaseRefundInline]
    date_hierarchy = "purchased_at"


@admin.register(PurchaseRefund)
class PurchaseRefundAdmin(ReadOnlyAdmin):
    brand_path = "purchase__brand"
    list_display = ["refund_id", "purchase", "amount", "points_reversed", "points_shortfall", "created_at"]
    list_filter = ["purchase__brand"]


class RewardForm(SameBrandForm):
    same_brand = {"currency": _("The currency must belong to the reward's brand."),
                  "min_tier": _("The tier must belong to the reward's brand.")}
    add_stock = forms.IntegerField(
        label=_("Add to stock"), required=False, min_value=-1_000_000, max_value=1_000_000,
        help_text=_("Added to (or, negative, taken from) the stock as it is when you save; redemptions in "
                    "the meantime are kept."),
    )

    class Meta:
        model = Reward
        fields = ["brand", "currency", "name", "name_en", "description", "redeemable", "points_cost", "value_thb",
                  "stock", "min_tier", "is_active", "is_flash", "starts_at", "ends_at", "coupon_valid_days",
                  "coupon_kind", "coupon_value", "percent_cap_thb", "min_spend_thb", "branches"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "coupon_kind" in self.fields:
            self.fields["coupon_kind"].required = False  # not given: a free item, as before coupon values

    def clean(self):
        cleaned = super().clean()
        cleaned["coupon_kind"] = cleaned.get("coupon_kind") or Reward.CouponKind.FREE_ITEM
        brand = cleaned.get("brand") or (self.instance.brand if self.instance.pk else None)
        if brand and any(branch.brand_id != brand.pk for branch in cleaned.get("branches") or []):
            self.add_error("branches", _("The branches must belong to the reward's brand."))
        if cleaned.get("redeemable", True) and not cleaned.get("points_cost"):
            self.add_error("points_cost", _("A reward redeemable with points needs a points cost above 0."))
        kind, value = cleaned.get("coupon_kind"), cleaned.get("coupon_value")
        if kind == Reward.CouponKind.AMOUNT_OFF and not (value and value > 0):
            self.add_error("coupon_value", _("Enter the THB taken off the bill."))
        if kind == Reward.CouponKind.PERCENT_OFF and not (value and 0 < value <= 100):
            self.add_error("coupon_value", _("Enter a percent between 1 and 100."))
        if cleaned.get("percent_cap_thb") is not None and kind != Reward.CouponKind.PERCENT_OFF:
            self.add_error("percent_cap_thb", _("Only a percent-off coupon has a cap."))
        if cleaned.get("is_flash"):
            stock = cleaned.get("stock") if "stock" in cleaned else self.instance.stock
            if not cleaned.get("ends_at"):
                self.add_error("ends_at", _("A flash reward needs an end time."))
            if stock is None:
                self.add_error("is_flash" if self.instance.pk else "stock",
                               _("A flash reward needs a limited stock."))
        return cleaned



@admin.register(Reward)
class RewardAdmin(BrandScopedAdmin):
    form = RewardForm
    list_display = ["name", "brand", "points_cost", "coupon_kind", "stock", "is_active", "is_flash", "redeemable",
                    "starts_at", "ends_at"]
    list_filter = ["brand", "is_active", "is_flash", "redeemable", "coupon_kind"]
    search_fields = ["name", "name_en"]
    filter_horizontal = ["branches"]

    def get_readonly_fields(self, request, obj=None):
        # Stock changes by redemption under a conditional UPDATE; the form must not write back
        # the number it showed. Staff add or remove stock with "Add to stock".
        return ["stock", "brand"] if obj else []

    def get_fields(self, request, obj=None):
        fields = [name for name in super().get_fields(request, obj) if name != "add_stock"]
        return [*fields, "add_stock"] if obj else fields

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        model_fields = {field.name for field in Reward._meta.concrete_fields} - {"stock", "brand"}
        obj.save(update_fields=[name for name in form.changed_data if name in model_fields] + ["updated_at"])
        if form.cleaned_data.get("add_stock") and obj.stock is None:
            messages.warning(request, _("This reward has unlimited stock: nothing was added."))
        elif form.cleaned_data.get("add_stock"):
            try:
                reward_restock(reward=obj, quantity=form.cleaned_data["add_stock"])
            except DomainError as error:
                messages.error(request, error.message)


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    list_display = ["id", "member", "reward", "points", "status", "created_at"]
    list_filter = ["brand", "status"]
    search_fields = ["request_id", "member__code"]
    list_select_related = ["member", "reward"]


@admin.register(Coupon)
class CouponAdmin(ReadOnlyAdmin):
    list_display = ["display_code", "reward", "member", "status", "expires_at", "used_at", "used_branch"]
    list_filter = ["brand", "status"]
    search_fields = ["code", "member__code"]
    list_select_related = ["member", "reward", "used_branch"]


@admin.register(CashierAction)
class CashierActionAdmin(ReadOnlyAdmin):
    """Every cashier action with its cashier, branch and device time."""

    list_display = ["created_at", "device_time", "kind", "cashier", "branch", "member", "points", "amount"]
    list_filter = ["brand", "kind", "branch"]
    search_fields = ["cashier__username", "member__code", "member__phone", "request_key"]
    list_select_related = ["cashier", "branch", "member"]
    date_hierarchy = "created_at"


from . import admin_expiry, admin_rules, admin_tiers  # noqa: E402, F401 - register their ModelAdmins

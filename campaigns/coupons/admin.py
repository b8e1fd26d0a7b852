"""Coupon promotions in admin: create, schedule, activate/pause/end, and their results.

Status changes go through ``coupon_rule_set_status`` (a conditional UPDATE); the form
never writes the status. Results are read-only on the change page.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from config.domain import DomainError
from loyalty.models import Purchase
from members.admin_base import BrandScopedAdmin, ReadOnlyAdmin, SameBrandForm

from .models import CouponGrant, CouponRule
from .selectors import coupon_rule_results
from .services import coupon_rule_set_status
from .terms import coupon_terms, money

CHANNELS = Purchase._meta.get_field("channel").choices


class CouponRuleForm(SameBrandForm):
    same_brand = {"reward": _("The coupon template must belong to the promotion's brand.")}
    channels = forms.MultipleChoiceField(label=_("channels"), choices=CHANNELS, required=False,
                                         widget=forms.CheckboxSelectMultiple,
                                         help_text=_("Purchase trigger: purchases from these channels only. "
                                                     "None ticked: all."))

    class Meta:
        model = CouponRule
        fields = ["brand", "name", "name_en", "trigger", "reward", "starts_at", "ends_at", "min_spend_thb", "limit",
                  "birthday_window", "channels", "branches", "tiers"]

    def clean(self):
        cleaned = super().clean()
        brand = cleaned.get("brand") or (self.instance.brand if self.instance.pk else None)
        if brand:
            if any(branch.brand_id != brand.pk for branch in cleaned.get("branches") or []):
                self.add_error("branches", _("The branches must belong to the promotion's brand."))
            if any(tier.brand_id != brand.pk for tier in cleaned.get("tiers") or []):
                self.add_error("tiers", _("The tiers must belong to the promotion's brand."))
        if cleaned.get("trigger") == CouponRule.Trigger.PURCHASE and cleaned.get("min_spend_thb") is None:
            self.add_error("min_spend_thb", _("A purchase promotion needs a minimum purchase (0 for any)."))
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The end must be after the start."))
        return cleaned


@admin.register(CouponRule)
class CouponRuleAdmin(BrandScopedAdmin):
    form = CouponRuleForm
    list_display = ["name", "brand", "trigger", "reward", "status", "starts_at", "ends_at", "issued_count"]
    list_filter = ["brand", "trigger", "status"]
    search_fields = ["name", "name_en"]
    filter_horizontal = ["branches", "tiers"]
    actions = ["activate", "pause", "end"]
    readonly_fields = ["status", "coupon_value", "results"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "brand"] if obj else self.readonly_fields

    def get_fieldsets(self, request, obj=None):
        fields = [name for name in self.get_fields(request, obj) if name not in ("results", "coupon_value")]
        sets = [(None, {"fields": fields + ["coupon_value"]})]
        if obj:
            sets.append((_("Results"), {"fields": ["results"]}))
        return sets

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("brand", "reward").annotate(issued=Count("grants"))

    @admin.display(description=_("coupons issued"), ordering="issued")
    def issued_count(self, obj):
        return obj.issued

    @admin.display(description=_("coupon"))
    def coupon_value(self, obj):
        if obj is None or not obj.reward_id:
            return "-"
        return str(coupon_terms(obj.reward, "en" if (get_language() or "").startswith("en") else "th"))

    @admin.display(description=_("results"))
    def results(self, obj):
        if obj is None or not obj.pk:
            return "-"
        result = coupon_rule_results(rule=obj)
        rows = [
            (_("Coupons issued"), result.issued),
            (_("Coupons used"), result.used),
            (_("Cancelled (refunds)"), result.cancelled),
            (_("Usage rate"), f"{result.usage_rate}%"),
            (_("Members who used a coupon"), _("%(members)s members, %(spend)s THB spent (%(each)s THB each)") % {
                "members": result.used_group.members, "spend": money(result.used_group.spend),
                "each": money(result.used_group.per_member)}),
            (_("Members who did not use it"), _("%(members)s members, %(spend)s THB spent (%(each)s THB each)") % {
                "members": result.unused_group.members, "spend": money(result.unused_group.spend),
                "each": money(result.unused_group.per_member)}),
        ]
        body = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", ((str(k), str(v)) for k, v in rows))
        return format_html('<table data-testid="coupon-rule-results">{}</table>', body)

    def _move(self, request, queryset, status: str, done: str):
        moved = 0
        for rule in queryset:
            try:
                coupon_rule_set_status(rule=rule, status=status)
            except DomainError as error:
                self.message_user(request, f"{rule}: {error.message}", messages.ERROR)
            else:
                moved += 1
        if moved:
            self.message_user(request, done % {"count": moved}, messages.SUCCESS)

    @admin.action(description=_("Activate selected promotions"))
    def activate(self, request, queryset):
        self._move(request, queryset, CouponRule.Status.ACTIVE, _("%(count)s promotions activated."))

    @admin.action(description=_("Pause selected promotions"))
    def pause(self, request, queryset):
        self._move(request, queryset, CouponRule.Status.PAUSED, _("%(count)s promotions paused."))

    @admin.action(description=_("End selected promotions"))
    def end(self, request, queryset):
        self._move(request, queryset, CouponRule.Status.ENDED, _("%(count)s promotions ended."))


@admin.register(CouponGrant)
class CouponGrantAdmin(ReadOnlyAdmin):
    brand_path = "rule__brand"
    list_display = ["created_at", "rule", "member", "coupon", "purchase"]
    list_filter = ["rule__brand", "rule"]
    search_fields = ["member__code", "coupon__code"]
    list_select_related = ["rule", "member", "coupon", "purchase"]

"""Admin for earning: the brand's earn policy, earn rules, promotions, promotion awards, and
the rule preview (staff enter a sample bill and see what it earns and why; nothing is written).

Every page is brand-scoped (``BrandScopedAdmin``, which also offers a currency shared with
the brand); forms refuse a currency, branch or tier of another brand.
"""

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.domain import DomainError
from members.admin_base import BrandScopedAdmin, ReadOnlyAdmin, SameBrandForm
from members.models import Branch, Brand
from members.selectors import brands_for_user, member_find

from .models import EarnPolicy, EarnRule, Promotion, PromotionAward, Tier
from .models.rules import EARN_CHANNELS, WEEKDAYS
from .services.earn_engine import LineInput, earn_compute, member_tier

# How rules and promotions combine, shown on the rule and promotion lists and the preview page
# (the same text as docs/earning.md and loyalty.services.earn_engine).
STACKING_RULES = [
    _("A bill without lines is one line of its total. Lines that do not add up to the total are scaled pro rata "
      "to it."),
    _("Each line earns at the most specific active rule that matches it: SKU, then category, then channel, then "
      "branch, then the base rate. A rule applies only when the bill reaches its minimum. A rule of 0 points "
      "excludes what it matches."),
    _("Rounding follows the brand's earn policy (down by default): on the bill (add the exact line values, "
      "round once) or per line (round each line, then add)."),
    _("The member's tier multiplier adds base points × (multiplier − 1)."),
    _("Promotions then apply by priority (lower first), then by age. A promotion applies when its dates, days "
      "of week and hours (Bangkok time; a window such as 22:00–02:00 belongs to the day it starts), tiers, "
      "branches, channels and minimum bill all fit."),
    _("Multiplier: base points of the matching lines × (multiplier − 1). Bill bonus: the bonus once (with SKUs or "
      "categories chosen, only when one of them is on the bill). Item bonus: the bonus for each unit of the "
      "matching lines. A bill of 0 THB gets no promotion points."),
    _("Caps: first the promotion's cap per bill, then its cap per member per day, week (Monday to Sunday), month "
      "or the whole promotion (a window such as 22:00–02:00 counts in the day it starts), then the brand's cap on "
      "all promotion points of one bill."),
    _("An exclusive promotion that gives points stops every promotion after it."),
]


class _RulesAdmin(BrandScopedAdmin):
    """Rule and promotion lists: the stacking rules and a link to the preview above the list."""

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "stacking_rules": STACKING_RULES,
                         "preview_url": reverse("admin:loyalty_earnrule_preview")}
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(EarnPolicy)
class EarnPolicyAdmin(BrandScopedAdmin):
    list_display = ["brand", "rounding", "rounding_scope", "bonus_cap_per_bill", "updated_at"]
    fields = ["brand", "rounding", "rounding_scope", "bonus_cap_per_bill"]


class EarnRuleForm(SameBrandForm):
    same_brand = {"currency": _("The currency must belong to the brand or be shared with it."),
                  "branch": _("The branch must belong to the rule's brand.")}

    class Meta:
        model = EarnRule
        fields = ["brand", "currency", "name", "branch", "channel", "category", "sku", "spend_amount", "points",
                  "minimum_spend", "is_active"]


@admin.register(EarnRule)
class EarnRuleAdmin(_RulesAdmin):
    form = EarnRuleForm
    change_list_template = "admin/loyalty/earn_rule_change_list.html"
    list_display = ["__str__", "brand", "currency", "specificity", "minimum_spend", "is_active"]
    list_filter = ["brand", "currency", "is_active"]
    list_select_related = ["brand", "currency", "branch"]
    search_fields = ["name", "sku", "category"]

    def get_urls(self):
        return [path("preview/", self.admin_site.admin_view(self.preview_view), name="loyalty_earnrule_preview"),
                *super().get_urls()]

    def preview_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = EarnPreviewForm(request.GET if "total" in request.GET else None, user=request.user)
        results = None
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            results = earn_compute(
                brand=data["brand"], member=data["member"], channel=data["channel"], branch=data["branch"],
                total=data["total"], lines=data["lines"], at=data["at"], tier=data["tier"],
                include_inactive=data["include_inactive"],
            )
        context = {**self.admin_site.each_context(request), "title": _("Earn rule preview"), "form": form,
                   "results": results, "stacking_rules": STACKING_RULES, "opts": self.model._meta}
        return TemplateResponse(request, "admin/loyalty/earn_preview.html", context)


class _WeekdaysField(forms.MultipleChoiceField):
    """Checkboxes for Monday..Sunday, stored as a string of digits ("024": Mon, Wed, Fri)."""

    def __init__(self, **kwargs):
        super().__init__(choices=WEEKDAYS, widget=forms.CheckboxSelectMultiple, required=False, **kwargs)

    def prepare_value(self, value):
        return list(value) if isinstance(value, str) else value

    def clean(self, value):
        return "".join(sorted(set(super().clean(value))))


class _ChannelsField(forms.MultipleChoiceField):
    """Checkboxes of earn channels, stored comma-separated (``Promotion.channel_set``)."""

    def __init__(self, **kwargs):
        super().__init__(choices=EARN_CHANNELS, widget=forms.CheckboxSelectMultiple, required=False, **kwargs)

    def prepare_value(self, value):
        return sorted(Promotion._split(value)) if isinstance(value, str) else value

    def clean(self, value):
        return ",".join(sorted(set(super().clean(value))))


class PromotionForm(SameBrandForm):
    same_brand = {"currency": _("The currency must belong to the brand or be shared with it.")}
    weekdays = _WeekdaysField(label=_("days of week"), help_text=_("None ticked: every day."))
    channels = _ChannelsField(label=_("channels"), help_text=_("None ticked: every channel."))

    class Meta:
        model = Promotion
        fields = ["brand", "currency", "name", "kind", "multiplier", "bonus_points", "minimum_bill", "skus",
                  "categories", "starts_at", "ends_at", "weekdays", "time_from", "time_until", "tiers", "branches",
                  "channels", "priority", "exclusive", "cap_per_bill", "cap_per_member", "cap_period", "is_active"]

    def clean(self):
        cleaned = super().clean()
        brand = cleaned.get("brand") or (self.instance.brand if self.instance.pk else None)
        if brand is not None:
            for name, message in (("tiers", _("Every tier must belong to the promotion's brand.")),
                                  ("branches", _("Every branch must belong to the promotion's brand."))):
                if any(row.brand_id != brand.pk for row in cleaned.get(name) or []):
                    self.add_error(name, message)
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The promotion must end after it starts."))
        return cleaned


@admin.register(Promotion)
class PromotionAdmin(_RulesAdmin):
    form = PromotionForm
    change_list_template = "admin/loyalty/earn_promotion_change_list.html"
    list_display = ["name", "brand", "currency", "kind", "priority", "exclusive", "starts_at", "ends_at",
                    "is_active"]
    list_filter = ["brand", "kind", "is_active"]
    list_select_related = ["brand", "currency"]
    search_fields = ["name"]
    filter_horizontal = ["tiers", "branches"]


@admin.register(PromotionAward)
class PromotionAwardAdmin(ReadOnlyAdmin):
    brand_path = "promotion__brand"
    list_display = ["promotion", "member", "purchase", "points", "awarded_at"]
    list_filter = ["promotion"]
    list_select_related = ["promotion", "member", "purchase"]
    search_fields = ["member__code", "promotion__name", "purchase__order_id"]
    date_hierarchy = "awarded_at"


MAX_AMOUNT = Decimal("9999999999.99")  # the largest bill or line a purchase can store (12 digits)


class EarnPreviewForm(forms.Form):
    """A sample bill for the preview: one line per row, ``sku,category,quantity,amount``."""

    brand = forms.ModelChoiceField(label=_("brand"), queryset=Brand.objects.none())
    branch = forms.ModelChoiceField(label=_("branch"), queryset=Branch.objects.none(), required=False)
    channel = forms.ChoiceField(label=_("channel"), choices=EARN_CHANNELS)
    at = forms.DateTimeField(label=_("date and time (Bangkok)"),
                             widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                             input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"])
    tier = forms.ModelChoiceField(label=_("tier"), queryset=Tier.objects.none(), required=False,
                                  help_text=_("Or enter a member code below to use that member's tier and caps."))
    member_code = forms.CharField(label=_("member code"), required=False, max_length=32)
    lines = forms.CharField(
        label=_("bill lines"), required=False, widget=forms.Textarea(attrs={"rows": 5, "cols": 60}),
        help_text=_("One line per row: SKU, category, quantity, amount (THB). For example: LATTE,coffee,2,130. "
                    "Empty: the bill is one line of its total."),
    )
    total = forms.DecimalField(label=_("bill total (THB)"), max_digits=12, decimal_places=2, min_value=0,
                               required=False, help_text=_("Empty: the sum of the lines."))
    include_inactive = forms.BooleanField(label=_("include inactive promotions"), required=False,
                                          help_text=_("See the effect of a promotion saved inactive before "
                                                      "publishing it."))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        brands = brands_for_user(user)
        self.fields["brand"].queryset = brands
        self.fields["branch"].queryset = Branch.objects.filter(brand__in=brands).select_related("brand")
        self.fields["tier"].queryset = Tier.objects.filter(brand__in=brands).select_related("brand")
        if len(brands) == 1:
            self.fields["brand"].initial = brands[0].pk
        self.fields["at"].initial = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
        self.fields["channel"].initial = EARN_CHANNELS[0][0]

    def clean_lines(self) -> list[LineInput]:
        lines = []
        for number, row in enumerate(self.cleaned_data["lines"].splitlines(), start=1):
            if not row.strip():
                continue
            parts = [part.strip() for part in row.split(",")]
            if len(parts) != 4:
                raise forms.ValidationError(_("Row %(number)s: enter SKU, category, quantity and amount, "
                                              "separated by commas.") % {"number": number})
            try:
                quantity, amount = int(parts[2] or 1), Decimal(parts[3])
            except (ValueError, InvalidOperation):
                raise forms.ValidationError(_("Row %(number)s: the quantity must be a whole number and the amount "
                                              "a number.") % {"number": number}) from None
            if not amount.is_finite() or quantity < 1 or amount < 0:  # NaN first: it cannot be compared
                raise forms.ValidationError(_("Row %(number)s: the quantity must be 1 or more and the amount 0 or "
                                              "more.") % {"number": number})
            if amount > MAX_AMOUNT:
                raise forms.ValidationError(_("Row %(number)s: the amount must be at most %(maximum)s THB.")
                                            % {"number": number, "maximum": MAX_AMOUNT})
            lines.append(LineInput(sku=parts[0], category=parts[1], quantity=quantity,
                                   amount=amount.quantize(Decimal("0.01"))))
        if len(lines) > 100:
            raise forms.ValidationError(_("At most 100 lines."))
        return lines

    def clean(self):
        cleaned = super().clean()
        brand = cleaned.get("brand")
        if brand is None:
            return cleaned
        for name in ("branch", "tier"):
            row = cleaned.get(name)
            if row is not None and row.brand_id != brand.pk:
                self.add_error(name, _("Choose one of the brand's own."))
        if cleaned.get("total") is None and "lines" in cleaned:
            cleaned["total"] = sum((line.amount for line in cleaned["lines"]), Decimal("0"))
            if cleaned["total"] > MAX_AMOUNT:
                self.add_error("lines", _("The lines add up to more than %(maximum)s THB: enter a smaller bill.")
                               % {"maximum": MAX_AMOUNT})
        cleaned["member"] = None
        code = cleaned.get("member_code", "").strip()
        if code:
            try:
                cleaned["member"] = member_find(brand=brand, code=code)
            except DomainError as error:
                self.add_error("member_code", str(error.message))
            else:
                if cleaned.get("tier") is None:
                    cleaned["tier"] = member_tier(cleaned["member"])
        return cleaned

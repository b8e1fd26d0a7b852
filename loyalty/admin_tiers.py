"""Admin for tiers: programs and tiers (staff-configured), member tiers (read-only state, override), history."""

from datetime import datetime, time, timedelta

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
from members.models import Member
from members.selectors import brand_ids_for_user

from .models import MemberTier, Tier, TierChange, TierProgram
from .services.ledger import BANGKOK
from .services.tiers import tier_override

PROGRAM_HELP = _(
    "How tiers work: a purchase that reaches a higher tier's threshold upgrades the member at once (that "
    "purchase still earns at the old tier's multiplier). A calendar-year tier holds through the end of the next "
    "calendar year; a rolling tier for the window's length. Each night the members whose tier is due are "
    "reviewed on the period before the review: they keep it, move up, or drop to the tier they reached (after "
    "the grace period, when there is one) or lose their tier. Refunds count at the review, never before. A staff "
    "override holds a tier until its end date; the member is then reviewed like anyone else."
)


class TierProgramForm(SameBrandForm):
    same_brand = {"currency": _("The currency must belong to the program's brand.")}

    class Meta:
        model = TierProgram
        fields = ["brand", "metric", "currency", "period", "rolling_months", "grace_days", "is_active"]


@admin.register(TierProgram)
class TierProgramAdmin(BrandScopedAdmin):
    form = TierProgramForm
    list_display = ["brand", "metric", "period", "rolling_months", "grace_days", "is_active"]
    list_filter = ["brand", "is_active"]
    fieldsets = [(None, {"fields": TierProgramForm.Meta.fields, "description": PROGRAM_HELP})]


@admin.register(Tier)
class TierAdmin(BrandScopedAdmin):
    form = SameBrandForm
    list_display = ["name", "name_en", "brand", "rank", "threshold", "earn_multiplier", "birthday_bonus",
                    "own_rich_menu", "member_count"]
    list_filter = ["brand"]
    fields = ["brand", "code", "name", "name_en", "rank", "threshold", "earn_multiplier", "birthday_bonus",
              "own_rich_menu", "color", "benefits", "benefits_en"]

    @admin.display(description=_("members"))
    def member_count(self, tier: Tier) -> int:
        return tier.members.count()


class TierOverrideForm(forms.Form):
    tier = forms.ModelChoiceField(queryset=Tier.objects.none(), required=False, label=_("tier"),
                                  empty_label=_("No tier"))
    until = forms.DateField(label=_("until (inclusive)"), widget=forms.DateInput(attrs={"type": "date"}),
                            help_text=_("The tier holds through this day (Bangkok time); the member is reviewed "
                                        "the next night."))
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, brand_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].queryset = Tier.objects.filter(brand_id=brand_id).order_by("rank")


@admin.register(MemberTier)
class MemberTierAdmin(BrandScopedAdmin):
    list_display = ["member", "tier", "qualified_until", "grace_until", "override_until", "brand"]
    list_filter = ["brand", "tier"]
    search_fields = ["member__code", "member__phone", "member__last_name"]
    list_select_related = ["member", "tier", "brand"]
    readonly_fields = ["member", "brand", "tier", "achieved_at", "qualified_until", "grace_until", "grace_tier",
                       "override_until", "override_reason", "override_by", "override_link"]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("staff override"))
    def override_link(self, row: MemberTier):
        url = reverse("admin:loyalty_membertier_override", args=[row.member_id])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Set a tier until a date…"))

    def get_urls(self):
        return [path("override/<int:member_id>/", self.admin_site.admin_view(self.override_view),
                     name="loyalty_membertier_override"), *super().get_urls()]

    def override_view(self, request, member_id: int):
        """Staff put a member (with or without a tier row yet) in a tier until a date, with a reason."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        members = Member.objects.select_related("brand")
        if not request.user.is_superuser:
            members = members.filter(brand_id__in=brand_ids_for_user(request.user))
        member = get_object_or_404(members, pk=member_id)
        form = TierOverrideForm(request.POST or None, brand_id=member.brand_id)
        if request.method == "POST" and form.is_valid():
            until = datetime.combine(form.cleaned_data["until"] + timedelta(days=1), time.min, tzinfo=BANGKOK)
            try:
                tier_override(member=member, tier=form.cleaned_data["tier"], until=until,
                              reason=form.cleaned_data["reason"], staff_user=request.user)
            except DomainError as error:
                for field, errors in (error.fields or {"__all__": [error.message]}).items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, _("The member's tier was set."))
                return redirect("admin:loyalty_membertier_change", member.pk)
        context = {**self.admin_site.each_context(request), "title": _("Set a tier for %(member)s") % {
            "member": member}, "form": form, "member": member, "opts": self.model._meta}
        return TemplateResponse(request, "admin/loyalty/tier_override.html", context)


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "member", "kind", "from_tier", "to_tier", "value", "qualified_until",
                    "staff_user", "run_key"]
    list_filter = ["brand", "kind"]
    search_fields = ["member__code", "run_key"]
    list_select_related = ["member", "from_tier", "to_tier", "staff_user"]
    date_hierarchy = "created_at"

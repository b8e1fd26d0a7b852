"""Top spender races admin: the race with its prizes inline, live standings, results and a per-race summary.

Staff only see their brands' races (``BrandScopedAdmin``). Starting and closing go through
the services (``race_activate``, ``race_close``); once started, what decides the ranking
(metric, period, audience) is read-only; once closed, the prizes are too.
"""

from datetime import timedelta

from django.contrib import admin, messages
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from config.domain import DomainError
from members.admin_base import BrandScopedAdmin, ReadOnlyAdmin, SameBrandForm
from members.models import Member
from members.selectors import brand_ids_for_user

from . import selectors
from .flex import amount_text
from .models import Race, RacePrize, RaceResult, Standing
from .services import race_activate, race_close, race_period_bounds

LIVE_ROWS = 20
RANKING_FIELDS = ["brand", "metric", "currency", "period", "starts_at", "ends_at", "audience_tiers"]


class RaceForm(SameBrandForm):
    same_brand = {"currency": _("The currency must belong to the race's brand.")}

    class Meta:
        model = Race
        fields = ["brand", "name", "name_en", "description", "description_en", "metric", "currency", "period",
                  "starts_at", "ends_at", "top_n", "audience_tiers"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "ends_at" in self.fields:
            self.fields["ends_at"].required = False

    def clean(self):
        cleaned = super().clean()
        brand = cleaned.get("brand") or (self.instance.brand if self.instance.pk else None)
        tiers = cleaned.get("audience_tiers") or []
        if brand and any(tier.brand_id != brand.pk for tier in tiers):
            self.add_error("audience_tiers", _("The tiers must belong to the race's brand."))
        period, starts_at = cleaned.get("period"), cleaned.get("starts_at")
        if period and starts_at and "starts_at" in self.fields:
            ends_at = cleaned.get("ends_at")
            if period == Race.Period.CUSTOM and (ends_at is None or ends_at <= starts_at):
                self.add_error("ends_at", _("A custom race needs an end after its start."))
            else:
                cleaned["starts_at"], cleaned["ends_at"] = race_period_bounds(period=period, starts_at=starts_at,
                                                                              ends_at=ends_at)
                self.instance.starts_at, self.instance.ends_at = cleaned["starts_at"], cleaned["ends_at"]
        return cleaned


class PrizeFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        race = self.instance
        ranges = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            rank_from, rank_to, reward = data.get("rank_from"), data.get("rank_to"), data.get("reward")
            if rank_from and rank_to and rank_to < rank_from:
                form.add_error("rank_to", _("The last rank must not be before the first."))
                continue
            if reward is not None and race.brand_id and reward.brand_id != race.brand_id:
                form.add_error("reward", _("The reward must belong to the race's brand."))
            if not data.get("points") and reward is None:
                form.add_error("points", _("Give points, a coupon, or both."))
            if rank_to and race.top_n and rank_to > race.top_n:
                form.add_error("rank_to", _("Only the top %(top_n)s win.") % {"top_n": race.top_n})
            if rank_from and rank_to:
                ranges.append((rank_from, rank_to, form))
        ranges.sort(key=lambda item: item[0])
        for (_first, last, _form), (following, _end, form) in zip(ranges, ranges[1:], strict=False):
            if following <= last:
                form.add_error("rank_from", _("Prize rank ranges must not overlap."))


class RacePrizeInline(admin.TabularInline):
    model = RacePrize
    formset = PrizeFormSet
    fields = ["rank_from", "rank_to", "points", "reward"]
    extra = 1

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "reward" and not request.user.is_superuser:
            kwargs["queryset"] = db_field.related_model.objects.filter(brand_id__in=brand_ids_for_user(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _editable(self, obj) -> bool:
        return obj is None or obj.status != Race.Status.CLOSED

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


@admin.register(Race)
class RaceAdmin(BrandScopedAdmin):
    form = RaceForm
    inlines = [RacePrizeInline]
    list_display = ["__str__", "brand", "metric", "period", "starts_at", "ends_at", "top_n", "status"]
    list_filter = ["brand", "status", "metric", "period"]
    search_fields = ["name", "name_en"]
    filter_horizontal = ["audience_tiers"]
    actions = ["start_races", "close_ended_races"]

    def get_readonly_fields(self, request, obj=None):
        shown = ["status", "activated_at", "closed_at", "live_standings", "results_summary"]
        if obj is None:
            return ["status"]
        if obj.status == Race.Status.DRAFT:
            return shown
        return [*RANKING_FIELDS, *shown] + (["top_n"] if obj.status == Race.Status.CLOSED else [])

    def get_fields(self, request, obj=None):
        fields = ["brand", "name", "name_en", "description", "description_en", "metric", "currency", "period",
                  "starts_at", "ends_at", "top_n", "audience_tiers", "status"]
        return fields + (["activated_at", "closed_at", "live_standings", "results_summary"] if obj else [])

    def has_delete_permission(self, request, obj=None):
        return (obj is None or obj.status == Race.Status.DRAFT) and super().has_delete_permission(request, obj)

    @admin.display(description=_("Standings (top 20, live)"))
    def live_standings(self, obj):
        rows = selectors.leaderboard_top(race=obj, limit=LIVE_ROWS)
        if not rows:
            return _("Nobody yet.")
        members = Member.objects.in_bulk([row.member_id for row in rows])
        return format_html("<table>{}</table>", format_html_join(
            "", "<tr><td>#{}</td><td>{}</td><td>{}</td></tr>",
            ((row.rank, members[row.member_id], amount_text(row.value, obj.metric)) for row in rows)))

    @admin.display(description=_("Results"))
    def results_summary(self, obj):
        summary = selectors.race_summary(race=obj)
        lines = [
            (_("Participants"), f"{summary.participants:,}"),
            (_("Spend of participants in the period"), f"{summary.participant_buyers_spend:,.2f} THB"),
            (_("Other buyers in the period"), f"{summary.other_buyers:,}"),
            (_("Spend of other buyers in the period"), f"{summary.other_buyers_spend:,.2f} THB"),
            (_("Prize points given"), f"{summary.prize_points:,}"),
            (_("Prize coupons given"), f"{summary.coupons:,}"),
            (_("Prizes not given (out of stock)"), f"{summary.prizes_missing:,}"),
        ]
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", lines))

    @admin.action(description=_("Start the selected draft races"))
    def start_races(self, request, queryset):
        started = 0
        for race in queryset.filter(status=Race.Status.DRAFT):
            try:
                race_activate(race_id=race.pk)
                started += 1
            except DomainError as error:
                self.message_user(request, f"{race}: {error.message}", messages.ERROR)
        self.message_user(request, _("%(count)s race(s) started.") % {"count": started})

    @admin.action(description=_("Close the selected races whose period has ended"))
    def close_ended_races(self, request, queryset):
        closed = sum(race_close(race_id=race.pk, grace=timedelta(0)) is not None
                     for race in queryset.filter(status=Race.Status.ACTIVE))
        self.message_user(request, _("%(count)s race(s) closed.") % {"count": closed})


@admin.register(Standing)
class StandingAdmin(ReadOnlyAdmin):
    brand_path = "race__brand"
    list_display = ["race", "member", "value", "reached_at", "updated_at"]
    list_filter = ["race"]
    search_fields = ["member__code", "member__first_name", "member__phone"]
    list_select_related = ["race", "member"]
    ordering = ["race", "-value", "reached_at", "member"]


@admin.register(RaceResult)
class RaceResultAdmin(ReadOnlyAdmin):
    brand_path = "race__brand"
    list_display = ["race", "rank", "member", "value", "reached_at", "prize_points", "prize_reward", "coupon",
                    "prize_note"]
    list_filter = ["race"]
    search_fields = ["member__code", "member__first_name"]
    list_select_related = ["race", "member", "prize_reward", "coupon"]

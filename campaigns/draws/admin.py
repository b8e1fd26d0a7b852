"""Lucky draws admin: a draw with its prizes, open/cancel actions, read-only entries and winners,
CSV exports of entries and results, and the draw's figures.

Once a draw is open, everything that decides who wins (dates, ticket rules, audience, prizes)
is read-only: the committed seed hash was published for exactly that draw.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from config.domain import DomainError
from members.admin_base import BrandScopedAdmin, ReadOnlyAdmin, SameBrandForm

from . import selectors, services
from .models import DrawEntry, DrawWinner, LuckyDraw, Prize, TicketBatch

FIXED_ONCE_OPEN = ["brand", "currency", "ticket_cost", "max_tickets_per_member", "entries_open_at",
                   "entries_close_at", "draw_at", "audience_tiers"]
SHOWN = ["status", "seed_hash", "opened_at", "revealed_seed", "drawn_at", "cancelled_at", "results", "downloads"]


def _https_urls(db_field, **kwargs):
    if isinstance(db_field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return db_field.formfield(**kwargs)


class LuckyDrawForm(SameBrandForm):
    same_brand = {"currency": _("The currency must belong to the draw's brand.")}

    class Meta:
        model = LuckyDraw
        formfield_callback = _https_urls
        fields = ["brand", "name", "name_en", "description", "description_en", "image_url", "currency", "ticket_cost",
                  "max_tickets_per_member", "entries_open_at", "entries_close_at", "draw_at", "consolation_enabled",
                  "audience_tiers"]

    def clean(self):
        cleaned = super().clean()
        brand = cleaned.get("brand") or (self.instance.brand if self.instance.pk else None)
        if brand and any(tier.brand_id != brand.pk for tier in cleaned.get("audience_tiers") or []):
            self.add_error("audience_tiers", _("The tiers must belong to the draw's brand."))
        opens, closes, draw_at = (cleaned.get(name) for name in ("entries_open_at", "entries_close_at", "draw_at"))
        if opens and closes and closes <= opens:
            self.add_error("entries_close_at", _("Entries must close after they open."))
        if closes and draw_at and draw_at < closes:
            self.add_error("draw_at", _("The draw cannot happen before entries close."))
        return cleaned


class PrizeForm(forms.ModelForm):
    class Meta:
        model = Prize
        fields = ["position", "name", "name_en", "quantity", "reward", "points"]

    def clean(self):
        cleaned = super().clean()
        reward, points = cleaned.get("reward"), cleaned.get("points")
        if reward and points:
            self.add_error("points", _("A prize is a coupon or points, not both."))
        draw = getattr(self.instance, "draw", None)
        if reward and draw is not None and draw.brand_id and reward.brand_id != draw.brand_id:
            self.add_error("reward", _("The reward must belong to the draw's brand."))
        return cleaned


class PrizeInline(admin.TabularInline):
    model = Prize
    form = PrizeForm
    extra = 1
    min_num = 1

    def _editable(self, obj) -> bool:
        return obj is None or obj.status == LuckyDraw.Status.DRAFT

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "reward" and not request.user.is_superuser:
            from members.selectors import brand_ids_for_user

            kwargs["queryset"] = db_field.related_model.objects.filter(brand_id__in=brand_ids_for_user(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(LuckyDraw)
class LuckyDrawAdmin(BrandScopedAdmin):
    form = LuckyDrawForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = [PrizeInline]
    list_display = ["name", "brand", "status", "ticket_cost", "entries_open_at", "entries_close_at", "draw_at",
                    "short_hash"]
    list_filter = ["brand", "status"]
    search_fields = ["name", "name_en"]
    list_select_related = ["brand"]
    filter_horizontal = ["audience_tiers"]
    date_hierarchy = "draw_at"
    actions = ["open_draws", "cancel_draws", "deliver_prizes"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        fixed = FIXED_ONCE_OPEN if obj.status != LuckyDraw.Status.DRAFT else []
        return [*fixed, *SHOWN]

    def get_fields(self, request, obj=None):
        fields = list(LuckyDrawForm.Meta.fields)
        return fields if obj is None else [*fields, *SHOWN]

    def has_delete_permission(self, request, obj=None):
        return obj is not None and obj.status == LuckyDraw.Status.DRAFT and super().has_delete_permission(request, obj)

    @admin.display(description=_("seed hash"))
    def short_hash(self, obj):
        return f"{obj.seed_hash[:12]}…" if obj.seed_hash else "–"

    @admin.display(description=_("results"))
    def results(self, obj):
        figures = selectors.draw_results(draw=obj)
        rows = [(_("Participants"), figures.participants), (_("Tickets"), figures.tickets),
                (_("Tickets bought"), figures.tickets_bought), (_("Tickets granted"), figures.tickets_granted),
                (_("Points spent"), f"{figures.points_spent:,}"), (_("Prizes"), figures.prize_slots),
                (_("Prizes given"), figures.prizes_delivered), (_("Prizes pending"), figures.prizes_pending)]
        return format_html('<table class="draw-results">{}</table>', format_html_join(
            "", '<tr><th>{}</th><td data-figure="{}">{}</td></tr>',
            ((label, index, value) for index, (label, value) in enumerate(rows))))

    @admin.display(description=_("downloads"))
    def downloads(self, obj):
        links = [(reverse("admin:draws_luckydraw_entries_csv", args=[obj.pk]), _("Entries (CSV)"))]
        if obj.status == LuckyDraw.Status.DRAWN:
            links.append((reverse("admin:draws_luckydraw_results_csv", args=[obj.pk]), _("Results (CSV)")))
        return format_html_join(" ", '<a class="button" href="{}">{}</a>', links)

    # --- actions (they call the services) ---

    def _each(self, request, queryset, action, done_message):
        done = 0
        for draw in queryset:
            try:
                action(draw)
            except DomainError as error:
                self.message_user(request, f"{draw}: {error.message}", messages.ERROR)
            else:
                done += 1
                self.log_change(request, draw, str(done_message))
        return done

    @admin.action(description=_("Open for entries (commit the seed)"))
    def open_draws(self, request, queryset):
        done = self._each(request, queryset, lambda draw: services.draw_open(draw=draw), "Opened; seed committed.")
        if done:
            self.message_user(request, _("Lucky draws opened: %(count)d. Their seed hashes are published.")
                              % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Cancel (give the points back)"))
    def cancel_draws(self, request, queryset):
        done = self._each(request, queryset, lambda draw: services.draw_cancel(draw=draw, staff_user=request.user),
                          "Cancelled; points given back.")
        if done:
            self.message_user(request, _("Lucky draws cancelled: %(count)d. Points spent on tickets were given back.")
                              % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Deliver pending prizes again"))
    def deliver_prizes(self, request, queryset):
        delivered = 0
        for draw in queryset.filter(status=LuckyDraw.Status.DRAWN):
            delivered += services.draw_results_deliver(draw=draw)
        self.message_user(request, _("Prizes delivered: %(count)d.") % {"count": delivered}, messages.SUCCESS)

    # --- CSV exports ---

    def get_urls(self):
        return [
            path("<int:draw_id>/entries.csv", self.admin_site.admin_view(self.entries_csv_view),
                 name="draws_luckydraw_entries_csv"),
            path("<int:draw_id>/results.csv", self.admin_site.admin_view(self.results_csv_view),
                 name="draws_luckydraw_results_csv"),
            *super().get_urls(),
        ]

    def _viewable(self, request, draw_id: int) -> LuckyDraw:
        draw = get_object_or_404(self.get_queryset(request).select_related("brand"), pk=draw_id)
        if not self.has_view_permission(request, draw):
            raise PermissionDenied
        return draw

    def _csv(self, body: str, filename: str) -> HttpResponse:
        response = HttpResponse("\ufeff" + body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "no-store"
        return response

    def entries_csv_view(self, request, draw_id: int):
        draw = self._viewable(request, draw_id)
        return self._csv(selectors.entries_csv(draw=draw), f"draw-{draw.brand.slug}-{draw.pk}-entries.csv")

    def results_csv_view(self, request, draw_id: int):
        draw = self._viewable(request, draw_id)
        return self._csv(selectors.results_csv(draw=draw), f"draw-{draw.brand.slug}-{draw.pk}-results.csv")


@admin.register(DrawEntry)
class DrawEntryAdmin(ReadOnlyAdmin):
    brand_path = "draw__brand"
    list_display = ["draw", "member", "tickets", "tickets_bought", "points_spent", "created_at", "updated_at"]
    list_filter = ["draw__brand", "draw"]
    search_fields = ["member__code", "member__phone"]
    list_select_related = ["draw", "member"]


@admin.register(TicketBatch)
class TicketBatchAdmin(ReadOnlyAdmin):
    brand_path = "draw__brand"
    list_display = ["draw", "entry", "kind", "tickets", "points", "key", "ledger_entry", "created_at"]
    list_filter = ["draw__brand", "kind"]
    search_fields = ["entry__member__code", "key"]
    list_select_related = ["draw", "entry__member", "ledger_entry"]


@admin.register(DrawWinner)
class DrawWinnerAdmin(ReadOnlyAdmin):
    brand_path = "draw__brand"
    list_display = ["draw", "slot", "prize", "member", "tickets", "coupon", "awarded_at", "award_error"]
    list_filter = ["draw__brand", "draw"]
    search_fields = ["member__code", "member__phone"]
    list_select_related = ["draw", "prize", "member", "coupon"]

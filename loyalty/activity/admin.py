"""Staff pages for activity points: rules, surveys (questions as JSON), awards and answers
(read-only: they explain ledger entries). Every page is brand-scoped."""

import json

from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from members.admin_base import BrandScopedAdmin, ReadOnlyAdmin

from .models import ActivityAward, ActivityRule, Survey, SurveyResponse


@admin.register(ActivityRule)
class ActivityRuleAdmin(BrandScopedAdmin):
    list_display = ["activity", "brand", "points", "currency", "period", "daily_cap", "is_active"]
    list_filter = ["brand", "activity", "is_active"]
    fields = ["brand", "activity", "points", "currency", "period", "daily_cap", "birthday_window", "is_active"]
    readonly_fields = ["period"]

    def has_delete_permission(self, request, obj=None):
        return False  # switch it off instead: its awards stay explained


@admin.register(Survey)
class SurveyAdmin(BrandScopedAdmin):
    list_display = ["title", "brand", "points", "is_active", "starts_at", "ends_at", "answers"]
    list_filter = ["brand", "is_active"]
    search_fields = ["title", "title_en"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(answer_count=Count("responses"))

    @admin.display(description=_("Answers"), ordering="answer_count")
    def answers(self, obj):
        return obj.answer_count

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SurveyResponse)
class SurveyResponseAdmin(ReadOnlyAdmin):
    brand_path = "survey__brand"
    list_display = ["survey", "member", "points", "created_at"]
    list_filter = ["survey"]
    search_fields = ["member__code", "member__phone"]
    list_select_related = ["survey", "member"]
    fields = ["survey", "member", "points", "created_at", "answers_table"]
    readonly_fields = fields

    @admin.display(description=_("Answers"))
    def answers_table(self, obj):
        labels = {q.get("key"): q.get("label_th", q.get("key")) for q in obj.survey.questions}
        if not obj.answers:
            return "—"
        return format_html("<table>{}</table>", format_html_join(
            "", "<tr><th>{}</th><td>{}</td></tr>",
            ((labels.get(key, key), value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
             for key, value in obj.answers.items())))


@admin.register(ActivityAward)
class ActivityAwardAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "member", "activity", "period_key", "points", "entry_link"]
    list_filter = ["brand", "activity"]
    search_fields = ["member__code", "member__phone", "period_key"]
    list_select_related = ["member"]
    date_hierarchy = "created_at"

    @admin.display(description=_("Ledger entry"))
    def entry_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:loyalty_ledgerentry_change", args=[obj.entry_id]),
                           obj.entry_id)

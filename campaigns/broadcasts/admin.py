"""Broadcasts in admin: compose, audience screen with preview, test send, schedule/start/pause/resume/cancel,
a live progress page (polls a small JSON endpoint), and results with uplift and ROI.

Every page and action goes through ``get_queryset`` (brand-scoped), so staff of one brand
get 404 for another brand's broadcast. Status moves call the services; the form never
writes the status.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from config.domain import DomainError
from members.admin_base import BrandScopedAdmin, SameBrandForm
from members.models import Member

from . import rendering
from .models import Broadcast
from .selectors import broadcast_audience, broadcast_progress, broadcast_results
from .services import (
    EDITABLE,
    broadcast_cancel,
    broadcast_pause,
    broadcast_resume,
    broadcast_schedule,
    broadcast_start,
    broadcast_test_send,
)


class BroadcastForm(SameBrandForm):
    same_brand = {"segment": _("The segment must belong to the broadcast's brand."),
                  "coupon_reward": _("The coupon must belong to the broadcast's brand.")}

    class Meta:
        model = Broadcast
        fields = ["brand", "name", "segment", "message_kind", "text_th", "text_en", "title_th", "title_en",
                  "image_url", "button_target", "button_label_th", "button_label_en", "button_url",
                  "button_liff_path", "coupon_reward", "fallback_sms", "fallback_email", "send_at",
                  "holdout_percent", "results_days", "cost_per_message_thb"]

    def clean(self):
        cleaned = super().clean()
        target = cleaned.get("button_target")
        if target == Broadcast.ButtonTarget.URL and not cleaned.get("button_url"):
            self.add_error("button_url", _("Enter the address the button opens."))
        if target and not cleaned.get("button_label_th"):
            self.add_error("button_label_th", _("Enter the button label."))
        if (cleaned.get("holdout_percent") or 0) > 90:
            self.add_error("holdout_percent", _("Hold out at most 90 percent of the audience."))
        return cleaned


class TestSendForm(forms.Form):
    member_code = forms.CharField(label=_("member code"), required=False,
                                  help_text=_("A member of this brand (e.g. your own membership)."))
    line_user_id = forms.CharField(label=_("or LINE user ID"), required=False, max_length=64)


ACTIONS = {
    "start": (broadcast_start, _("Sending started.")),
    "pause": (broadcast_pause, _("Paused. Batches already claimed finish; nothing else is sent.")),
    "resume": (broadcast_resume, _("Resumed.")),
    "cancel": (broadcast_cancel, _("Cancelled.")),
}


S = Broadcast.Status
CONTROLS = [  # (action, button, statuses it is offered in)
    ("start", _("Send now"), (S.DRAFT, S.SCHEDULED)),
    ("schedule", _("Schedule for the send time"), (S.DRAFT,)),
    ("pause", _("Pause"), (S.SENDING,)),
    ("resume", _("Resume"), (S.PAUSED,)),
    ("cancel", _("Cancel"), (S.DRAFT, S.SCHEDULED, S.PAUSED)),
]


@admin.register(Broadcast)
class BroadcastAdmin(BrandScopedAdmin):
    form = BroadcastForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "brand", "segment", "status", "send_at", "started_at", "finished_at", "pages"]
    list_filter = ["brand", "status"]
    search_fields = ["name", "text_th", "text_en"]
    list_select_related = ["brand", "segment"]
    readonly_fields = ["status", "started_at", "finished_at", "pages"]
    fieldsets = (
        (None, {"fields": ("brand", "name", "segment", "status", "pages")}),
        (_("Message"), {"fields": ("message_kind", "text_th", "text_en", "title_th", "title_en", "image_url",
                                   "button_target", "button_label_th", "button_label_en", "button_url",
                                   "button_liff_path")}),
        (_("Coupon drop"), {"fields": ("coupon_reward",)}),
        (_("Members not on LINE"), {"fields": ("fallback_sms", "fallback_email")}),
        (_("Schedule and measurement"), {"fields": ("send_at", "holdout_percent", "results_days",
                                                    "cost_per_message_thb", "started_at", "finished_at")}),
    )

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status not in EDITABLE:  # what was sent stays as it was sent
            return [*self.form.Meta.fields, *self.readonly_fields]
        return [*self.readonly_fields, "brand"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        return obj is None or obj.status == Broadcast.Status.DRAFT and not obj.started_at

    @admin.display(description=_("pages"))
    def pages(self, obj):
        if not obj or not obj.pk:
            return "–"
        links = [("audience", _("Audience and preview")), ("progress", _("Progress")),
                 ("results", _("Results")), ("test_send", _("Test send"))]
        return format_html_join(" · ", '<a href="{}">{}</a>', (
            (reverse(f"admin:broadcasts_broadcast_{name}", args=[obj.pk]), label) for name, label in links))

    def get_urls(self):
        def view(function, suffix):
            return self.admin_site.admin_view(function), f"broadcasts_broadcast_{suffix}"

        routes = [("<int:pk>/audience/", self.audience_view, "audience"),
                  ("<int:pk>/progress/", self.progress_view, "progress"),
                  ("<int:pk>/progress.json", self.progress_json, "progress_json"),
                  ("<int:pk>/results/", self.results_view, "results"),
                  ("<int:pk>/test-send/", self.test_send_view, "test_send"),
                  ("<int:pk>/control/", require_POST(self.control_view), "control")]
        custom = []
        for route, function, suffix in routes:
            wrapped, name = view(function, suffix)
            custom.append(path(route, wrapped, name=name))
        return [*custom, *super().get_urls()]

    # --- pages ------------------------------------------------------------------------------------

    def _broadcast(self, request, pk: int, *, change: bool = False) -> Broadcast:
        broadcast = get_object_or_404(self.get_queryset(request).select_related("brand", "segment", "coupon_reward"),
                                      pk=pk)
        allowed = self.has_change_permission(request, broadcast) if change else \
            self.has_view_permission(request, broadcast)
        if not allowed:
            raise PermissionDenied
        return broadcast

    def _page(self, request, broadcast, template: str, title, **extra):
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title,
                   "broadcast": broadcast, "original": broadcast, **extra}
        return TemplateResponse(request, f"admin/broadcasts/{template}", context)

    def audience_view(self, request, pk: int):
        broadcast = self._broadcast(request, pk)
        previews = [(label, rendering.line_messages(broadcast, rendering.preview_context(broadcast, language)),
                     rendering.plain_text(broadcast, rendering.preview_context(broadcast, language)))
                    for language, label in (("th", _("Thai")), ("en", _("English")))]
        return self._page(request, broadcast, "audience.html", _("Audience and preview"),
                          audience=broadcast_audience(broadcast=broadcast), previews=previews)

    def progress_view(self, request, pk: int):
        broadcast = self._broadcast(request, pk)
        return self._page(request, broadcast, "progress.html", _("Sending progress"),
                          progress=broadcast_progress(broadcast=broadcast), controls=CONTROLS,
                          can_change=self.has_change_permission(request, broadcast))

    def progress_json(self, request, pk: int):
        broadcast = self._broadcast(request, pk)
        data = broadcast_progress(broadcast=broadcast).as_json()
        data["status_label"] = str(broadcast.get_status_display())
        return JsonResponse(data)

    def results_view(self, request, pk: int):
        broadcast = self._broadcast(request, pk)
        return self._page(request, broadcast, "results.html", _("Results"),
                          results=broadcast_results(broadcast=broadcast))

    def test_send_view(self, request, pk: int):
        broadcast = self._broadcast(request, pk, change=True)
        form = TestSendForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            member = None
            code = form.cleaned_data["member_code"].strip()
            if code:
                member = Member.objects.filter(brand_id=broadcast.brand_id, code=code.upper()).first()
                if member is None:
                    form.add_error("member_code", _("No member of this brand has that code."))
            if not form.errors:
                try:
                    sent_to = broadcast_test_send(broadcast=broadcast, member=member,
                                                  line_user_id=form.cleaned_data["line_user_id"])
                except DomainError as error:
                    form.add_error(None, error.message)
                else:
                    self.message_user(request, _("Test sent to %(to)s. It is not counted.") % {"to": sent_to},
                                      messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:broadcasts_broadcast_test_send", args=[pk]))
        return self._page(request, broadcast, "test_send.html", _("Test send"), form=form)

    def control_view(self, request, pk: int):
        broadcast = self._broadcast(request, pk, change=True)
        action = request.POST.get("action", "")
        try:
            if action == "schedule":
                if broadcast.send_at is None or broadcast.send_at <= timezone.now():
                    self.message_user(request, _("Set a send time in the future first."), messages.ERROR)
                else:
                    broadcast_schedule(broadcast=broadcast, send_at=broadcast.send_at)
                    self.message_user(request, _("Scheduled."), messages.SUCCESS)
            elif action in ACTIONS:
                service, done = ACTIONS[action]
                service(broadcast=broadcast)
                self.message_user(request, done, messages.SUCCESS)
            else:
                self.message_user(request, _("Unknown action."), messages.ERROR)
        except DomainError as error:
            details = " ".join(str(problem) for problem in error.fields.values())
            self.message_user(request, f"{error.message} {details}".strip(), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:broadcasts_broadcast_progress", args=[pk]))

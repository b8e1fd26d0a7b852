from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from .admin_base import BrandScopedAdmin
from .api.authentication import keys_changed
from .errors import InvalidPhone
from .models import ApiKey, Branch, Brand, Member, MemberChange, ProfileField, StaffAssignment
from .selectors import brand_ids_for_user
from .services import api_key_create, phone_normalise

SECRET_FIELDS = ("line_channel_secret", "line_channel_access_token")


class BrandForm(forms.ModelForm):
    """LINE secrets are write-only here: never rendered back, kept when left blank."""

    class Meta:
        model = Brand
        fields = ["name", "slug", "is_active", "line_channel_id", "line_login_channel_id", "liff_id", "embed_origins",
                  *SECRET_FIELDS]
        widgets = {name: forms.PasswordInput(render_value=False) for name in SECRET_FIELDS}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in SECRET_FIELDS:
            self.fields[name].required = False
            if self.instance.pk and getattr(self.instance, name):
                self.fields[name].help_text = _("Set. Leave blank to keep it; type a new value to replace it.")

    def clean(self):
        cleaned = super().clean()
        for name in SECRET_FIELDS:
            if not cleaned.get(name) and self.instance.pk:
                cleaned[name] = getattr(Brand.objects.get(pk=self.instance.pk), name)
        return cleaned


class MemberForm(forms.ModelForm):
    class Meta:
        model = Member
        fields = ["brand", "first_name", "last_name", "display_name", "phone", "email", "birth_date", "gender",
                  "language", "status", "line_user_id", "line_reachable"]

    def clean_phone(self):
        phone = self.cleaned_data.get("phone")
        if not phone:
            return None
        try:
            return phone_normalise(phone)
        except InvalidPhone as error:
            raise forms.ValidationError(error.message) from error

    def clean_line_user_id(self):
        return self.cleaned_data.get("line_user_id") or None

    def clean(self):
        cleaned = super().clean()
        # The brand is read-only on change, so Django skips the (brand, …) unique checks: do them here.
        brand = cleaned.get("brand") or (self.instance.brand if self.instance.pk else None)
        for name in ("phone", "line_user_id"):
            value = cleaned.get(name)
            if brand and value and Member.objects.filter(brand=brand, **{name: value}).exclude(
                    pk=self.instance.pk).exists():
                self.add_error(name, _("Another member of this brand already has this value."))
        return cleaned


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    fields = ["name", "slug", "is_active", "line_channel_id", "line_channel_secret", "line_channel_access_token",
              "line_login_channel_id", "liff_id", "embed_origins"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(pk__in=brand_ids_for_user(request.user))

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False

    form = BrandForm


@admin.register(Branch)
class BranchAdmin(BrandScopedAdmin):
    list_display = ["code", "name", "brand", "is_active"]
    list_filter = ["brand", "is_active"]
    search_fields = ["code", "name"]


@admin.register(StaffAssignment)
class StaffAssignmentAdmin(BrandScopedAdmin):
    list_display = ["user", "brand", "role"]
    list_filter = ["brand", "role"]
    filter_horizontal = ["branches"]

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(ProfileField)
class ProfileFieldAdmin(BrandScopedAdmin):
    list_display = ["label_th", "key", "kind", "required", "order", "is_active", "brand"]
    list_filter = ["brand", "kind", "is_active"]
    list_editable = ["order", "is_active"]


@admin.register(Member)
class MemberAdmin(BrandScopedAdmin):
    form = MemberForm
    list_display = ["code", "__str__", "phone", "status", "brand", "created_at"]
    list_filter = ["brand", "status", "gender"]
    search_fields = ["code", "first_name", "last_name", "display_name", "phone", "line_user_id", "email"]
    readonly_fields = ["code", "user", "registered_at", "created_at", "updated_at", "line_followed_at",
                       "line_unfollowed_at", "merged_into", "privacy_link", "change_history"]
    list_select_related = ["brand"]

    def get_readonly_fields(self, request, obj=None):
        # A member's points live in their brand's accounts: the brand never changes.
        return [*self.readonly_fields, "brand"] if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # members are never deleted here: their points and consents must stay explained

    @admin.display(description=_("Privacy (PDPA)"))
    def privacy_link(self, obj):
        if not obj.pk:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("admin:consent_member", args=[obj.pk]),
                           _("Consents, data export and erasure"))

    @admin.display(description=_("Profile changes"))
    def change_history(self, obj):
        changes = MemberChange.objects.filter(member=obj).select_related("changed_by")[:50]
        if not changes:
            return "—"
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (timezone.localtime(c.created_at).strftime("%Y-%m-%d %H:%M"), c.field, c.old_value, c.new_value,
             c.channel, c.changed_by or "") for c in changes))
        return format_html("<table>{}</table>", rows)

    def get_search_results(self, request, queryset, search_term):
        """Also find a member by a phone typed the Thai way (081-234-5678 → +66812345678)."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            e164 = phone_normalise(search_term)
        except InvalidPhone:
            return results, may_have_duplicates
        return results | queryset.filter(phone=e164), True


@admin.register(ApiKey)
class ApiKeyAdmin(BrandScopedAdmin):
    list_display = ["name", "key_prefix", "brand", "branch", "last_used_at", "revoked_at"]
    list_filter = ["brand"]
    readonly_fields = ["key_prefix", "last_used_at", "created_by", "created_at"]
    fields = ["brand", "branch", "name", "channel", "revoked_at", "key_prefix", "last_used_at", "created_by",
              "created_at"]
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if not change:
            created, raw_key = api_key_create(
                brand=obj.brand, branch=obj.branch, name=obj.name, channel=obj.channel, created_by=request.user
            )
            obj.pk, obj.key_prefix, obj.key_digest = created.pk, created.key_prefix, created.key_digest
            obj._state.adding = False
            messages.warning(
                request,
                _("The new API key is shown once; copy it now: %(key)s") % {"key": raw_key},
            )
            return
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        keys_changed()  # update() sends no signal: this process forgets its kept keys now
        self.message_user(request, _("%(count)d keys revoked.") % {"count": count})

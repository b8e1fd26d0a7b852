from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from config.domain import DomainError
from members.admin_base import BrandScopedAdmin, ReadOnlyAdmin

from .models import ConsentDocument, ConsentRecord, ConsentVersion
from .services import consent_version_publish

VERSION_FIELDS = ["version", "content_th", "content_en", "effective_at"]


class DraftVersionInline(admin.StackedInline):
    """Drafts are edited here; they are published with the action on the versions list."""

    model = ConsentVersion
    verbose_name = _("draft version")
    verbose_name_plural = _("draft versions")
    fields = VERSION_FIELDS
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=ConsentVersion.Status.DRAFT)


class PublishedVersionInline(admin.StackedInline):
    """Published text is frozen: shown, never changed or deleted."""

    model = ConsentVersion
    verbose_name = _("published version")
    verbose_name_plural = _("published versions")
    fields = [*VERSION_FIELDS, "published_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=ConsentVersion.Status.PUBLISHED)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ConsentDocument)
class ConsentDocumentAdmin(BrandScopedAdmin):
    list_display = ["title_th", "title_en", "kind", "is_required", "brand", "updated_at"]
    list_filter = ["brand", "kind", "is_required"]
    search_fields = ["title_th", "title_en"]
    inlines = [PublishedVersionInline, DraftVersionInline]

    def get_readonly_fields(self, request, obj=None):
        # Its records and versions belong to this brand: the brand never changes.
        return ["brand"] if obj else []

    def has_delete_permission(self, request, obj=None):
        return False  # members' decisions refer to it


@admin.action(description=_("Publish the selected draft versions"), permissions=["change"])
def publish_versions(modeladmin, request, queryset):
    published = 0
    for version in queryset.order_by("document_id", "version"):
        try:
            consent_version_publish(version=version)
        except DomainError as error:
            messages.error(request, f"{version}: {error.message}")
        else:
            published += 1
    if published:
        messages.success(request, _("Published %(count)d versions.") % {"count": published})


@admin.register(ConsentVersion)
class ConsentVersionAdmin(BrandScopedAdmin):
    brand_path = "document__brand"
    list_display = ["__str__", "document", "version", "status", "effective_at", "published_at"]
    list_filter = ["document__brand", "document__kind", "status"]
    search_fields = ["document__title_th", "document__title_en", "content_th", "content_en"]
    list_select_related = ["document"]
    fields = ["document", *VERSION_FIELDS, "status", "published_at"]
    actions = [publish_versions]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_published:
            return list(self.fields)
        return ["status", "published_at", *(["document"] if obj else [])]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_published:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_published:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # would hit published versions; drafts are deleted one by one
        return actions


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    brand_path = "document__brand"
    list_display = ["id", "created_at", "member", "document", "version", "granted", "channel", "staff_user"]
    list_filter = ["document__brand", "document__kind", "granted", "channel"]
    search_fields = ["member__code", "member__phone", "member__first_name", "member__last_name"]
    list_select_related = ["member", "document", "version__document", "staff_user"]
    date_hierarchy = "created_at"

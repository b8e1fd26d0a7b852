from django.contrib import admin

from members.admin_base import ReadOnlyAdmin

from .models import LineWebhookEvent, MessageDelivery, OutboundMessage, RichMenu


@admin.register(LineWebhookEvent)
class LineWebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "event_type", "line_user_id", "status", "is_redelivery", "brand"]
    list_filter = ["brand", "event_type", "status"]
    search_fields = ["webhook_event_id", "line_user_id"]
    date_hierarchy = "received_at"


class MessageDeliveryInline(admin.TabularInline):
    model = MessageDelivery
    extra = 0
    can_delete = False
    readonly_fields = ["member", "line_user_id", "status", "error", "updated_at"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "template", "purpose", "status", "attempts", "line_request_id", "brand"]
    list_filter = ["brand", "kind", "purpose", "status", "template"]
    search_fields = ["recipients", "template", "line_request_id"]
    inlines = [MessageDeliveryInline]
    date_hierarchy = "created_at"


@admin.register(MessageDelivery)
class MessageDeliveryAdmin(ReadOnlyAdmin):
    """What each member received: search by member code, phone or LINE user id."""

    brand_path = "message__brand"
    list_display = ["updated_at", "member", "line_user_id", "status", "message"]
    list_filter = ["message__brand", "status", "message__template"]
    search_fields = ["member__code", "member__phone", "line_user_id"]
    list_select_related = ["member", "message"]


@admin.register(RichMenu)
class RichMenuAdmin(ReadOnlyAdmin):
    list_display = ["brand", "key", "line_rich_menu_id", "synced_at"]
    list_filter = ["brand"]

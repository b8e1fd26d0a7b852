"""A member's own data as JSON (PDPA right of access and data portability).

``member_data_export`` returns one JSON-ready dict: the profile, consents, the points
ledger, purchases with their lines, coupons and the LINE messages the member received,
then every other row that points at the member (receipts, activity, missions, reviews,
referrals, draw entries, race standings, ...). Those are *discovered*: every concrete
foreign key to ``members.Member`` in any installed app is followed (``personal_models``),
so an app added later is exported without touching this module. ``FIELDS`` narrows a
model to an explicit allow-list where some columns are not the member's data (digests,
staff identities, internal keys); ``SKIPPED_FIELDS`` drops secrets everywhere; foreign
keys to staff users are never exported.

Members merged into this one (their phone-only history before registering) are the same
person: their rows are included.

Callers audit the access (``consent.services.personal_data_access_record``): the portal
for the member's own download, the admin (with the staff user and a reason) for staff.
"""

import datetime as dt
import uuid
from decimal import Decimal

from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils import timezone

from .models import Member

FORMAT_VERSION = 1

PROFILE_FIELDS = ["code", "status", "first_name", "last_name", "display_name", "phone", "email", "birth_date",
                  "gender", "language", "line_user_id", "line_reachable", "line_followed_at", "line_unfollowed_at",
                  "registered_at", "custom_fields", "created_at", "updated_at"]

# Models with a dedicated section (they are still discovered, and left out of ``other``).
SECTIONS = {"consent.consentrecord": "consents", "loyalty.purchase": "purchases", "loyalty.coupon": "coupons",
            "messaging.messagedelivery": "messages_received", "loyalty.pointaccount": "accounts"}

# Explicit allow-lists, where a model holds columns that are not the member's personal data.
FIELDS = {
    "members.phoneverification": ["phone", "created_at", "verified_at", "expires_at"],
    "members.memberchange": ["field", "old_value", "new_value", "channel", "created_at"],
    "consent.personaldataaccess": ["action", "channel", "created_at"],
    "consent.consentanonymisation": ["records", "created_at"],
    "loyalty.cashieraction": ["kind", "branch", "points", "amount", "purchase", "coupon", "created_at"],
    "receipts.receipt": ["status", "image", "store_text", "branch", "receipt_date", "receipt_number", "total",
                         "ocr_text", "reason", "decided_at", "purchase", "created_at"],
    "orders.pendingorder": ["source", "channel", "order_id", "phone", "email", "line_user_id", "total", "lines",
                            "paid_at", "status", "purchase", "created_at"],
    "claims.claimcode": ["batch", "claimed_at", "ledger_entry"],
    "loyalty.membertier": ["tier", "achieved_at", "qualified_until", "grace_until", "grace_tier", "override_until",
                           "updated_at"],
    "loyalty.tierchange": ["kind", "from_tier", "to_tier", "value", "qualified_until", "created_at"],
}
SKIPPED_FIELDS = {"code_digest", "key_digest", "sha256", "phash", "retry_key", "reply_token", "request_key",
                  "idempotency_key", "upload_key", "issue_key"}


def personal_models() -> list[tuple[type[models.Model], list[str]]]:
    """Every model (but ``Member`` itself) with a concrete foreign key to ``Member``, and those keys."""
    found = []
    for model in apps.get_models():
        if model is Member:
            continue
        names = [field.name for field in model._meta.concrete_fields
                 if field.is_relation and field.related_model is Member]
        if names:
            found.append((model, names))
    return sorted(found, key=lambda item: item[0]._meta.label_lower)


def plain(value):
    """A JSON-ready value: dates in ISO 8601 (Bangkok for times), money as strings, files by name."""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, models.fields.files.FieldFile):
        return value.name or ""
    return value


def _exported_fields(model) -> list[models.Field]:
    allowed = FIELDS.get(model._meta.label_lower)
    fields = []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name in SKIPPED_FIELDS:
            continue
        if field.is_relation and (field.related_model is Member
                                  or field.related_model._meta.label == settings.AUTH_USER_MODEL):
            continue
        if allowed is not None and field.name not in allowed:
            continue
        fields.append(field)
    return fields


def row_data(row, fields: list[models.Field]) -> dict:
    data = {"id": row.pk}
    for field in fields:
        data[field.attname] = plain(getattr(row, field.attname))
    return data


def _rows(model, names: list[str], member_ids: list[int]) -> list[dict]:
    query = models.Q()
    for name in names:
        query |= models.Q(**{f"{name}__in": member_ids})
    fields = _exported_fields(model)
    rows = []
    for row in model._default_manager.filter(query).order_by("pk").iterator(chunk_size=1000):
        data = row_data(row, fields)
        if len(names) > 1:  # e.g. a referral: which side of it the member is
            data["member_role"] = [name for name in names if getattr(row, f"{name}_id") in member_ids]
        rows.append(data)
    return rows


def _profile(member: Member) -> dict:
    return {name: plain(getattr(member, name)) for name in PROFILE_FIELDS} | {"brand": member.brand.name}


def _consents(member_ids: list[int]) -> list[dict]:
    from consent.models import ConsentRecord

    return [{"at": plain(record.created_at), "document": record.document.title_th,
             "document_en": record.document.title_en, "kind": record.document.kind,
             "version": record.version.version, "granted": record.granted, "channel": record.channel,
             "text_th": record.version.content_th, "text_en": record.version.content_en,
             "ip": record.ip, "user_agent": record.user_agent, "reason": record.reason}
            for record in ConsentRecord.objects.filter(member_id__in=member_ids)
            .select_related("document", "version").order_by("id")]


def _ledger(member_ids: list[int]) -> list[dict]:
    from loyalty.models import LedgerEntry

    return [{"at": plain(entry.created_at), "currency": entry.account.currency.code, "kind": entry.kind,
             "channel": entry.channel, "points": entry.amount, "balance_after": entry.balance_after,
             "purchase_id": entry.purchase_id, "redemption_id": entry.redemption_id,
             "reason": entry.reason, "expires_at": plain(entry.expires_at)}
            for entry in LedgerEntry.objects.filter(account__member_id__in=member_ids)
            .select_related("account__currency").order_by("id")]


def _purchases(member_ids: list[int]) -> list[dict]:
    from loyalty.models import Purchase

    return [{"id": purchase.pk, "order_id": purchase.order_id, "channel": purchase.channel,
             "branch": purchase.branch.name if purchase.branch else "", "total": plain(purchase.total),
             "refunded_total": plain(purchase.refunded_total), "status": purchase.status,
             "points_earned": purchase.points_earned, "purchased_at": plain(purchase.purchased_at),
             "lines": [{"sku": line.sku, "category": line.category, "quantity": line.quantity,
                        "amount": plain(line.amount)} for line in purchase.lines.all()]}
            for purchase in Purchase.objects.filter(member_id__in=member_ids).select_related("branch")
            .prefetch_related("lines").order_by("purchased_at", "id")]


def _coupons(member_ids: list[int]) -> list[dict]:
    from loyalty.models import Coupon

    return [{"code": coupon.code, "reward": coupon.reward.name if coupon.reward_id else "", "status": coupon.status,
             "issued_at": plain(coupon.issued_at), "expires_at": plain(coupon.expires_at),
             "used_at": plain(coupon.used_at)}
            for coupon in Coupon.objects.filter(member_id__in=member_ids).select_related("reward").order_by("id")]


def _accounts(member_ids: list[int]) -> list[dict]:
    from loyalty.models import PointAccount

    return [{"currency": account.currency.code, "balance": account.balance}
            for account in PointAccount.objects.filter(member_id__in=member_ids).select_related("currency")
            .order_by("id")]


def _messages(member_ids: list[int]) -> list[dict]:
    from messaging.models import MessageDelivery

    return [{"at": plain(delivery.message.sent_at or delivery.message.created_at),
             "kind": delivery.message.kind, "purpose": delivery.message.purpose,
             "template": delivery.message.template, "status": delivery.status,
             "messages": delivery.message.messages}
            for delivery in MessageDelivery.objects.filter(member_id__in=member_ids).select_related("message")
            .order_by("id")]


SECTION_BUILDERS = {"consents": _consents, "purchases": _purchases, "coupons": _coupons,
                    "messages_received": _messages, "accounts": _accounts}


def member_data_export(*, member: Member) -> dict:
    """Everything the platform holds about ``member`` (and members merged into them), JSON-ready.

    Read-only; the caller audits the access. Sections: ``profile``, ``accounts``, ``ledger``,
    ``purchases``, ``coupons``, ``consents``, ``messages_received`` and ``other`` (model label →
    rows) for every other model with a foreign key to the member.
    """
    member = Member.objects.select_related("brand").get(pk=member.pk)  # as stored now, not as the caller saw it
    member_ids = [member.pk, *Member.objects.filter(merged_into=member).values_list("pk", flat=True)]
    data = {"format": FORMAT_VERSION, "exported_at": plain(timezone.now()), "profile": _profile(member),
            "merged_members": [_profile(merged) for merged in Member.objects.filter(merged_into=member)
                               .select_related("brand").order_by("pk")],
            "ledger": _ledger(member_ids)}
    data.update({name: builder(member_ids) for name, builder in SECTION_BUILDERS.items()})
    other = {}
    for model, names in personal_models():
        label = model._meta.label_lower
        if label in SECTIONS:
            continue
        other[label] = _rows(model, names, member_ids)
    data["other"] = other
    return data

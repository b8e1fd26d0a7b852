"""The member 360° page's data: one member of one brand, everything staff ask about them.

A handful of small queries, each limited to recent rows; segments are evaluated one by one
(cheap for the few segments a brand keeps).
"""

from django.apps import apps

from loyalty.models import Coupon, LedgerEntry, MemberTier, PointAccount, Purchase, TierChange
from members.models import Member

RECENT = 20


def _installed(app: str) -> bool:
    return apps.is_installed(app)


def member_360(*, member: Member) -> dict:
    data = {
        "member": member,
        "tier": MemberTier.objects.filter(member=member).select_related("tier").first(),
        "tier_history": list(TierChange.objects.filter(member=member).select_related("from_tier", "to_tier")
                             .order_by("-id")[:RECENT]),
        "accounts": list(PointAccount.objects.filter(member=member).select_related("currency").order_by("currency_id")),
        "ledger": list(LedgerEntry.objects.filter(account__member=member).select_related("account__currency")
                       .order_by("-id")[:RECENT]),
        "purchases": list(Purchase.objects.filter(member=member).select_related("branch")
                          .order_by("-purchased_at")[:RECENT]),
        "coupons": list(Coupon.objects.filter(member=member).select_related("reward").order_by("-issued_at")[:RECENT]),
        "missions": [], "draws": [], "races": [], "consents": [], "messages": [], "segments": None,
    }
    if _installed("campaigns.missions"):
        from campaigns.missions.models import MissionProgress

        data["missions"] = list(MissionProgress.objects.filter(member=member).select_related("mission")
                                .order_by("-id")[:RECENT])
    if _installed("campaigns.draws"):
        from campaigns.draws.models import DrawEntry

        data["draws"] = list(DrawEntry.objects.filter(member=member).select_related("draw").order_by("-id")[:RECENT])
    if _installed("campaigns.leaderboards"):
        from campaigns.leaderboards.models import Standing

        standings = list(Standing.objects.filter(member=member).select_related("race").order_by("-race_id")[:RECENT])
        for standing in standings:
            standing.rank = Standing.objects.filter(race_id=standing.race_id, value__gt=standing.value).count() + 1
        data["races"] = standings
    if _installed("consent"):
        from consent.selectors import member_consent_overview

        data["consents"] = member_consent_overview(member=member, history_limit=10)
    if _installed("messaging"):
        from messaging.models import MessageDelivery

        data["messages"] = list(MessageDelivery.objects.filter(member=member).select_related("message")
                                .order_by("-id")[:RECENT])
    data["segments"] = member_segments(member=member)
    return data


def member_segments(*, member: Member) -> list | None:
    """The brand's segments this member falls in now; None when segments are not installed."""
    if not _installed("campaigns.segments"):
        return None
    try:
        from campaigns.segments.models import Segment
        from campaigns.segments.services import segment_members
    except ImportError:
        return None
    matched = []
    for segment in Segment.objects.filter(brand_id=member.brand_id).select_related("brand").order_by("name"):
        try:
            if segment_members(segment).filter(pk=member.pk).exists():
                matched.append(segment)
        except Exception:  # noqa: BLE001, S112 - a broken definition is skipped here, shown on its own page
            continue
    return matched

"""Coupon promotions: give coupons on purchases, birthdays and registrations, once per key.

Every coupon goes through ``loyalty.services.coupons.coupon_issue`` with a key derived from
its source (see ``models``), inside one transaction with its ``CouponGrant`` and its LINE
notice (``message_push`` records the message; it is sent after commit). A replayed event,
a retried task or a re-run job finds the coupon by its key and writes nothing.

Refunds (our choice, the issue was silent): a refund that brings the purchase below the
rule's minimum spend cancels the coupons that purchase gave, *if they are still unused*
(a conditional ``UPDATE ... WHERE status = 'issued'``: a concurrent use either wins, and
the coupon stays used, or loses and cannot be used). A coupon already used is never
taken back; the stock it took is not returned.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from loyalty.errors import RewardOutOfStock
from loyalty.models import Coupon, Purchase
from loyalty.services.coupons import IssueResult, coupon_issue
from loyalty.services.ledger import BANGKOK
from loyalty.services.tiers import member_tier
from members.models import Member
from messaging.models import OutboundMessage
from messaging.outbox import message_push

from . import flex
from .errors import CouponRuleStateInvalid
from .models import CouponGrant, CouponRule

log = logging.getLogger(__name__)


def bangkok_today(now: datetime | None = None) -> date:
    return timezone.localtime(now or timezone.now(), BANGKOK).date()


def period_key(limit: str, moment: datetime) -> str:
    """The Bangkok period of ``moment`` a per-member limit counts in (ISO week for weeks)."""
    day = timezone.localtime(moment, BANGKOK).date()
    if limit == CouponRule.Limit.PER_DAY:
        return day.isoformat()
    if limit == CouponRule.Limit.PER_WEEK:
        year, week, _weekday = day.isocalendar()
        return f"{year}-W{week:02d}"
    if limit == CouponRule.Limit.PER_MONTH:
        return f"{day.year}-{day.month:02d}"
    if limit == CouponRule.Limit.PER_YEAR:
        return str(day.year)
    return "all"


def purchase_key(rule: CouponRule, purchase: Purchase) -> str:
    if rule.limit == CouponRule.Limit.PER_PURCHASE:
        return f"couponrule:{rule.pk}:{purchase.pk}"
    return f"couponrule:{rule.pk}:{purchase.member_id}:{period_key(rule.limit, purchase.purchased_at)}"


def _in_audience(rule: CouponRule, member: Member) -> bool:
    tier_ids = {tier.pk for tier in rule.tiers.all()}
    if not tier_ids:
        return True
    tier = member_tier(member)
    return tier is not None and tier.pk in tier_ids


def _rules(brand_id: int, trigger: str):
    return (CouponRule.objects.filter(brand_id=brand_id, trigger=trigger, status=CouponRule.Status.ACTIVE)
            .select_related("reward").prefetch_related("tiers", "branches").order_by("pk"))


@dataclass(frozen=True)
class Given:
    rule: CouponRule
    result: IssueResult


def coupon_rule_grant(*, rule: CouponRule, member: Member, key: str, purchase: Purchase | None = None,
                      now: datetime | None = None) -> IssueResult | None:
    """Give ``member`` the rule's coupon once per ``key``, record the grant, notify on LINE.

    One transaction: ``coupon_issue`` (stock by conditional UPDATE, key unique per brand),
    the ``CouponGrant`` and the LINE message record (sent after commit, deduplicated by the
    key). Returns None, writing nothing, when the template is out of stock.
    """
    try:
        with transaction.atomic():
            result = coupon_issue(member=member, reward=rule.reward, key=key, now=now)
            CouponGrant.objects.get_or_create(coupon=result.coupon, defaults={
                "rule": rule, "member": member, "purchase": purchase})
            if result.created:
                template, messages = flex.coupon_given(member, rule, result.coupon)
                # A birthday coupon's notice is marketing (PDPA): sent only with current marketing consent.
                # The coupon is given either way; welcome and purchase notices answer the member's own action.
                purpose = (OutboundMessage.Purpose.MARKETING if rule.trigger == CouponRule.Trigger.BIRTHDAY
                           else OutboundMessage.Purpose.TRANSACTIONAL)
                message_push(member=member, template=template, messages=messages, dedupe_key=f"{key}:notice",
                             purpose=purpose)
    except RewardOutOfStock:
        log.info("coupon rule %s: template %s out of stock, nothing given to member %s",
                 rule.pk, rule.reward_id, member.pk)
        return None
    return result


def coupons_for_purchase(*, purchase_id: int) -> list[Given]:
    """The coupons a recorded purchase earns from the brand's active purchase rules.

    A rule applies when the purchase (its ``purchased_at``) is inside the rule's window, its
    total reaches the minimum, its channel and branch are among the rule's (if listed) and
    the member is in the rule's tiers (if listed). Once per purchase or per member per
    Bangkok period (``Limit``), by the key.
    """
    purchase = (Purchase.objects.select_related("member__brand")
                .filter(pk=purchase_id, status=Purchase.Status.COMPLETED).first())
    if purchase is None or purchase.member.status != Member.Status.ACTIVE:
        return []
    given = []
    for rule in _rules(purchase.brand_id, CouponRule.Trigger.PURCHASE):
        if not rule.is_running(purchase.purchased_at):
            continue
        if purchase.total < (rule.min_spend_thb or Decimal("0")):
            continue
        if rule.channels and purchase.channel not in rule.channels:
            continue
        branch_ids = {branch.pk for branch in rule.branches.all()}
        if branch_ids and purchase.branch_id not in branch_ids:
            continue
        if not _in_audience(rule, purchase.member):
            continue
        result = coupon_rule_grant(rule=rule, member=purchase.member, key=purchase_key(rule, purchase),
                                   purchase=purchase)
        if result is not None:
            given.append(Given(rule, result))
    return given


def coupons_on_refund(*, purchase_id: int) -> int:
    """Cancel the unused coupons a purchase gave once a refund left it below the rule's minimum.

    Returns how many were cancelled. A used coupon stays used (see the module docstring).
    """
    purchase = Purchase.objects.filter(pk=purchase_id).first()
    if purchase is None:
        return 0
    net = purchase.total - purchase.refunded_total
    cancelled = 0
    for grant in CouponGrant.objects.filter(purchase=purchase).select_related("rule"):
        if net >= (grant.rule.min_spend_thb or Decimal("0")) and purchase.status != Purchase.Status.REFUNDED:
            continue
        cancelled += Coupon.objects.filter(pk=grant.coupon_id, status=Coupon.Status.ISSUED).update(
            status=Coupon.Status.CANCELLED)
    return cancelled


def welcome_coupons(*, member_id: int) -> list[Given]:
    """Coupons of the brand's running welcome rules, once per member (``couponrule:{rule}:{member}``)."""
    member = Member.objects.select_related("brand").filter(pk=member_id, status=Member.Status.ACTIVE).first()
    if member is None:
        return []
    given = []
    for rule in _rules(member.brand_id, CouponRule.Trigger.WELCOME):
        if rule.is_running() and _in_audience(rule, member):
            result = coupon_rule_grant(rule=rule, member=member, key=f"couponrule:{rule.pk}:{member.pk}")
            if result is not None:
                given.append(Given(rule, result))
    return given


# --- birthdays -------------------------------------------------------------------------------


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def birthday_rules(*, at: datetime | None = None) -> list[CouponRule]:
    at = at or timezone.now()
    rules = (CouponRule.objects.filter(trigger=CouponRule.Trigger.BIRTHDAY, status=CouponRule.Status.ACTIVE,
                                       brand__is_active=True).select_related("reward").order_by("pk"))
    return [rule for rule in rules if rule.is_running(at)]


def birthday_key(rule: CouponRule, member_id: int, year: int) -> str:
    return f"couponrule:{rule.pk}:{member_id}:{year}"


def birthday_members(*, rule: CouponRule, today: date):
    """Ids of the rule's brand's active members due the coupon today and not given it this year.

    One query: born today (29 February birthdays on 28 February in other years) or in this
    month, per the rule; members already holding this year's key are left out.
    """
    members = Member.objects.filter(brand_id=rule.brand_id, status=Member.Status.ACTIVE,
                                    birth_date__month=today.month)
    if rule.birthday_window == CouponRule.BirthdayWindow.ON_THE_DAY:
        leap_day_today = today.month == 2 and today.day == 28 and not _is_leap(today.year)
        members = members.filter(birth_date__day__in=[28, 29] if leap_day_today else [today.day])
    # The key is couponrule:{rule}:{member}:{year}; the member is already the outer row's.
    given = Coupon.objects.filter(brand_id=rule.brand_id, member=OuterRef("pk"),
                                  issue_key__startswith=f"couponrule:{rule.pk}:",
                                  issue_key__endswith=f":{today.year}")
    return members.filter(~Exists(given)).order_by("pk").values_list("pk", flat=True)


def birthday_coupon(*, rule: CouponRule, member_id: int, year: int, now: datetime | None = None) -> IssueResult | None:
    """The rule's birthday coupon for one member, once per Bangkok year."""
    member = Member.objects.select_related("brand").filter(
        pk=member_id, brand_id=rule.brand_id, status=Member.Status.ACTIVE).first()
    if member is None or not _in_audience(rule, member):
        return None
    return coupon_rule_grant(rule=rule, member=member, key=birthday_key(rule, member.pk, year), now=now)


def birthday_coupons_run(*, today: date | None = None, now: datetime | None = None) -> int:
    """Give every member due a birthday coupon today (all brands); returns how many were given."""
    today = today or bangkok_today(now)
    given = 0
    for rule in birthday_rules(at=now):
        for member_id in list(birthday_members(rule=rule, today=today)):
            result = birthday_coupon(rule=rule, member_id=member_id, year=today.year, now=now)
            given += bool(result and result.created)
    return given


# --- staff actions ---------------------------------------------------------------------------

ALLOWED_MOVES = {
    CouponRule.Status.ACTIVE: {CouponRule.Status.DRAFT, CouponRule.Status.PAUSED},
    CouponRule.Status.PAUSED: {CouponRule.Status.ACTIVE},
    CouponRule.Status.ENDED: {CouponRule.Status.DRAFT, CouponRule.Status.ACTIVE, CouponRule.Status.PAUSED},
}


def coupon_rule_set_status(*, rule: CouponRule, status: str) -> CouponRule:
    """Activate, pause or end a rule by a conditional UPDATE from an allowed status.

    Draft → active; active ↔ paused; anything but ended → ended (final). Raises
    ``CouponRuleStateInvalid`` otherwise (nothing changed).
    """
    allowed = ALLOWED_MOVES.get(status, set())
    updated = CouponRule.objects.filter(pk=rule.pk, status__in=allowed).update(
        status=status, updated_at=timezone.now())
    if updated != 1:
        raise CouponRuleStateInvalid()
    rule.refresh_from_db(fields=["status", "updated_at"])
    return rule

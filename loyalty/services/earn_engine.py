"""The earn-rule engine: what a bill earns, currency by currency, and why.

``earn_compute`` reads rules, the brand's policy, promotions, the member's tier and (for
per-member caps) the member's earlier ``PromotionAward`` rows; it writes nothing.
``purchase_record`` calls it inside its transaction after locking the member's accounts
(so per-member caps cannot be passed by two purchases at once); the staff rule preview
and the cashier's preview call it too, so all three show the same numbers.

The rules, in the order they apply (also in ``docs/earning.md`` and on the admin pages):

1. Lines. A bill without lines is one line of its total (no SKU or category). Lines that
   do not add up to the total are scaled pro rata to it (lines without amounts share it
   by quantity).
2. Base points per line: the most specific active rule of the currency that matches the
   line (SKU > category > channel > branch > base rate; ``EarnRule.specificity``) and
   whose minimum bill the total reaches. A rule of 0 points excludes the line.
   Exact value = amount × points ÷ spend, an exact ``Fraction`` until rounding.
3. Rounding (``EarnPolicy``; default: down, on the bill): on the bill, exact line values
   are added and rounded once; per line, each line is rounded, then added.
4. Tier: the member's tier multiplier m adds round(base × (m − 1)).
5. Promotions of the currency, by priority then id. One applies when its dates, days of
   week and hours (Bangkok time; an overnight window such as 22:00–02:00 belongs to the
   day it starts), tiers, branches, channels and minimum bill all fit, the bill is more
   than 0 THB, and it gives points. Multiplier: round(base points of the matching lines ×
   (multiplier − 1)); bill bonus: bonus once (with SKUs or categories chosen, only when a
   matching line is on the bill); item bonus: bonus per unit of the matching lines. Lines
   excluded by a 0-point rule count only for promotions that name their SKU or
   category. Caps, in order: per bill, per member per period (day, Monday–Sunday week,
   month in Bangkok time, of the day an overnight window started, or the whole
   promotion; from earlier awards), then the
   brand's cap on all promotion points of one bill. An exclusive promotion that applies
   stops every promotion after it.
6. The total is base + tier + promotions: an integer, never negative.
"""

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.models import EarnPolicy, EarnRule, PointCurrency, Promotion, PromotionAward
from loyalty.models.rules import ROUNDING_MODES, Rounding

from .earn_config import RECENT, EarnSetup, earn_setup, promotions_query
from .ledger import BANGKOK

CENT = Decimal("0.01")
_UNSET = object()


@dataclass(frozen=True)
class LineInput:
    amount: Decimal
    sku: str = ""
    category: str = ""
    quantity: int = 1


@dataclass(frozen=True)
class PromotionPoints:
    promotion: Promotion
    points: int


@dataclass
class CurrencyEarn:
    """What one bill earns in one currency; ``explanation`` is JSON, ``text`` the same for people."""

    currency: PointCurrency
    points: int = 0
    base_points: int = 0
    tier_points: int = 0
    bonus_points: int = 0
    awards: list[PromotionPoints] = field(default_factory=list)
    explanation: list[dict] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def note(self, step: str, text: str, **data) -> None:
        self.explanation.append({"step": step, **data})
        self.text.append(text)


@dataclass
class _Line:
    number: int
    amount: Fraction  # exact: a line scaled pro rata is not cut to 28 digits (1/3 + 1/3 + 1/3 is 1)
    sku: str
    category: str
    quantity: int
    rule: EarnRule | None = None
    exact: Fraction = Fraction(0)
    points: Fraction = Fraction(0)  # the line's base points: exact (bill rounding) or rounded (line rounding)

    @property
    def excluded(self) -> bool:
        return self.rule is not None and self.rule.points == 0

    def label(self) -> str:
        parts = [self.sku, self.category, f"×{self.quantity}" if self.quantity != 1 else ""]
        return ", ".join(part for part in parts if part) or _("bill")


def _decimal(value) -> Decimal:
    if isinstance(value, Fraction):
        return Decimal(value.numerator) / Decimal(value.denominator)
    return Decimal(value)


def _money(value) -> str:
    return str(_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


def _exact(value) -> str:
    """An exact points value for people: at most 4 decimals, no trailing zeros."""
    text = f"{_decimal(value).quantize(Decimal('0.0001'), rounding=ROUND_HALF_UP):f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _round(value, mode: str) -> int:
    """``value`` (Decimal, Fraction or int) rounded exactly: down (floor), up (ceiling) or half up (away from 0)."""
    exact = Fraction(value)
    if ROUNDING_MODES[mode] == ROUND_FLOOR:
        return math.floor(exact)
    if ROUNDING_MODES[mode] == ROUND_CEILING:
        return math.ceil(exact)
    half_up = math.floor(abs(exact) + Fraction(1, 2))
    return half_up if exact >= 0 else -half_up


def _rule_label(rule: EarnRule) -> str:
    return f"“{rule.name}”" if rule.name else f"{_money(rule.spend_amount)} THB = {rule.points}{rule.scope_label()}"


def earn_currencies(*, brand) -> list[PointCurrency]:
    """Currencies ``brand`` earns in: its own and those shared with it, each with an active rule of the brand.

    Default currency first, then by code. Raises ``ValueError`` when an active rule of the
    brand uses a currency of another brand that is not shared with it (a broken setup
    must not credit anyone).
    """
    return earn_setup(brand=brand).currencies


def member_tier(member, *, setup: EarnSetup | None = None):
    """The member's current tier, or None (no member, or the brand's tier program is off).

    With a cached ``setup`` the program's state and the entry tier come from it: one query
    (the member's ``MemberTier``) instead of three.
    """
    if member is None:
        return None
    from .tiers import member_tier as current_tier  # tiers imports nothing from here; keep the import local

    cached = setup is not None and setup.read_at is not None
    return current_tier(member, known=(setup.tier_program, setup.entry_tier) if cached else None)


def _lines(lines, total: Decimal, result: CurrencyEarn) -> list[_Line]:
    if not lines:
        result.note("lines", _("The bill has no lines: its total of %(total)s THB is one line.")
                    % {"total": _money(total)}, total=_money(total))
        return [_Line(1, Fraction(total), "", "", 1)]
    built = [_Line(number, Fraction(Decimal(line.amount)), line.sku or "", line.category or "",
                   int(line.quantity or 1))
             for number, line in enumerate(lines, start=1)]
    lines_total = sum((line.amount for line in built), Fraction(0))
    if lines_total == Fraction(total):
        return built
    if lines_total > 0:
        for line in built:
            line.amount = line.amount * Fraction(total) / lines_total
        result.note("lines_scaled",
                    _("The lines add up to %(lines)s THB but the bill is %(total)s THB: each line is scaled "
                      "pro rata to the bill.") % {"lines": _money(lines_total), "total": _money(total)},
                    lines_total=_money(lines_total), total=_money(total))
    else:
        quantity = sum(line.quantity for line in built) or 1
        for line in built:
            line.amount = Fraction(total) * line.quantity / quantity
        result.note("lines_by_quantity",
                    _("The lines carry no amounts: the bill of %(total)s THB is shared by quantity.")
                    % {"total": _money(total)}, total=_money(total))
    return built


def _base(lines: list[_Line], rules: list[EarnRule], *, branch_id, channel: str, total: Decimal,
          policy: EarnPolicy, result: CurrencyEarn) -> int:
    below_minimum = set()
    for line in lines:
        matching = [rule for rule in rules
                    if rule.matches(branch_id=branch_id, channel=channel, category=line.category, sku=line.sku)]
        for rule in matching:
            if total < rule.minimum_spend and rule.pk not in below_minimum:
                below_minimum.add(rule.pk)
                result.note("rule_minimum", _("Rule %(rule)s does not apply: the bill is below its minimum of "
                                              "%(minimum)s THB.") % {"rule": _rule_label(rule),
                                                                     "minimum": _money(rule.minimum_spend)},
                            rule=rule.pk, minimum=_money(rule.minimum_spend))
        matching = [rule for rule in matching if total >= rule.minimum_spend]
        data = {"line": line.number, "sku": line.sku, "category": line.category, "quantity": line.quantity,
                "amount": _money(line.amount)}
        words = {"number": line.number, "line": line.label(), "amount": _money(line.amount)}
        if not matching:
            result.note("line", _("Line %(number)s (%(line)s, %(amount)s THB): no earn rule matches, no points.")
                        % words, rule=None, points="0", **data)
            continue
        line.rule = max(matching, key=lambda rule: (rule.specificity, rule.pk))
        words["rule"] = _rule_label(line.rule)
        if line.excluded:
            result.note("line", _("Line %(number)s (%(line)s, %(amount)s THB): excluded by rule %(rule)s "
                                  "(0 points).") % words, rule=line.rule.pk, excluded=True, points="0", **data)
            continue
        line.exact = line.amount * line.rule.points / Fraction(line.rule.spend_amount)
        line.points = (Fraction(_round(line.exact, policy.rounding))
                       if policy.rounding_scope == EarnPolicy.Scope.LINE else line.exact)
        result.note("line", _("Line %(number)s (%(line)s, %(amount)s THB): rule %(rule)s → %(points)s points.")
                    % {**words, "points": _exact(line.points)},
                    rule=line.rule.pk, specificity=line.rule.specificity, exact=_exact(line.exact),
                    points=_exact(line.points), **data)
    exact = sum((line.points for line in lines), Fraction(0))
    base = _round(exact, policy.rounding)
    mode = Rounding(policy.rounding).label
    if policy.rounding_scope == EarnPolicy.Scope.LINE:
        text = _("Rounding (%(mode)s) per line: %(points)s base points.") % {"mode": mode, "points": base}
    else:
        text = _("Rounding (%(mode)s) on the bill: %(exact)s → %(points)s base points.") % {
            "mode": mode, "exact": _exact(exact), "points": base}
    result.note("rounding", text, mode=policy.rounding, scope=policy.rounding_scope, exact=_exact(exact),
                points=base)
    return base


def _in_hours(promotion: Promotion, local: datetime) -> tuple[bool, date]:
    """Whether the local time is inside the promotion's hours, and the day whose window it is."""
    start, end, now = promotion.time_from, promotion.time_until, local.time().replace(tzinfo=None)
    day = local.date()
    if start is None and end is None:
        return True, day
    if start is not None and end is not None and start > end:  # overnight: after midnight is the day before's
        if now >= start:
            return True, day
        return now < end, day - timedelta(days=1)
    if start is not None and end is not None and start == end:
        return True, day
    return (start is None or now >= start) and (end is None or now < end), day


def _period(promotion: Promotion, window_day: date) -> tuple[datetime, datetime] | None:
    """The member-cap period (Bangkok time) of a bill in the window of ``window_day``; None: the whole promotion.

    Periods start at midnight, except for an overnight window (22:00–02:00): its hours after
    midnight belong to the day before, so its periods start when the window ends (02:00)
    and one night never counts in two days, or in two weeks on a Sunday night.
    """
    if promotion.cap_period == Promotion.CapPeriod.DAY:
        start = window_day
        end = start + timedelta(days=1)
    elif promotion.cap_period == Promotion.CapPeriod.WEEK:
        start = window_day - timedelta(days=window_day.weekday())
        end = start + timedelta(days=7)
    elif promotion.cap_period == Promotion.CapPeriod.MONTH:
        start = window_day.replace(day=1)
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    else:
        return None
    overnight = (promotion.time_from is not None and promotion.time_until is not None
                 and promotion.time_from > promotion.time_until)
    shift = promotion.time_until.replace(tzinfo=None) if overnight else time.min
    return datetime.combine(start, shift, tzinfo=BANGKOK), datetime.combine(end, shift, tzinfo=BANGKOK)


def _skip_reason(promotion: Promotion, *, at: datetime, local: datetime, tier, branch_id, channel: str,
                 total: Decimal) -> tuple[str, str] | None:
    """(code, text) why the promotion does not apply to this bill, or None when it does."""
    if not promotion.starts_at <= at < promotion.ends_at:
        return "outside_dates", _("outside its dates (%(starts)s – %(ends)s)") % {
            "starts": timezone.localtime(promotion.starts_at, BANGKOK).strftime("%Y-%m-%d %H:%M"),
            "ends": timezone.localtime(promotion.ends_at, BANGKOK).strftime("%Y-%m-%d %H:%M")}
    inside, window_day = _in_hours(promotion, local)
    if not inside:
        return "outside_hours", _("outside its hours (%(start)s–%(end)s)") % {
            "start": promotion.time_from.strftime("%H:%M") if promotion.time_from else "00:00",
            "end": promotion.time_until.strftime("%H:%M") if promotion.time_until else "24:00"}
    if promotion.weekdays and str(window_day.weekday()) not in promotion.weekdays:
        return "wrong_day", _("not on this day of the week")
    tier_ids = {t.pk for t in promotion.tiers.all()}
    if tier_ids and (tier is None or tier.pk not in tier_ids):
        return "wrong_tier", _("not for this member's tier")
    branch_ids = {b.pk for b in promotion.branches.all()}
    if branch_ids and branch_id not in branch_ids:
        return "wrong_branch", _("not for this branch")
    if promotion.channel_set and channel not in promotion.channel_set:
        return "wrong_channel", _("not for this channel")
    if total <= 0:  # a bill of nothing cannot be refunded: it must not earn a bonus either
        return "below_minimum", _("the bill is 0 THB")
    if total < promotion.minimum_bill:
        return "below_minimum", _("the bill is below its minimum of %(minimum)s THB") % {
            "minimum": _money(promotion.minimum_bill)}
    return None


def _matching_lines(promotion: Promotion, lines: list[_Line]) -> list[_Line]:
    skus, categories = promotion.sku_set, promotion.category_set
    if not skus and not categories:
        return [line for line in lines if not line.excluded]
    return [line for line in lines if line.sku in skus or line.category in categories]


def _promotion_points(promotion: Promotion, lines: list[_Line], policy: EarnPolicy) -> tuple[int, str]:
    matching = _matching_lines(promotion, lines)
    if promotion.kind == Promotion.Kind.BILL_BONUS:
        if (promotion.sku_set or promotion.category_set) and not matching:
            return 0, ""  # a bonus for bills with chosen SKUs or categories needs one of them on the bill
        return promotion.bonus_points, _("bonus for the bill")
    if promotion.kind == Promotion.Kind.ITEM_BONUS:
        quantity = sum(line.quantity for line in matching)
        return promotion.bonus_points * quantity, _("%(bonus)s per item × %(quantity)s items") % {
            "bonus": promotion.bonus_points, "quantity": quantity}
    base = _round(sum((line.points for line in matching), Fraction(0)), policy.rounding)
    extra = _round(Decimal(base) * (promotion.multiplier - 1), policy.rounding)
    return extra, _("×%(multiplier)s on %(base)s base points") % {
        "multiplier": _exact(promotion.multiplier), "base": base}


def _member_used(promotion: Promotion, member, local: datetime) -> int:
    awards = PromotionAward.objects.filter(promotion=promotion, member=member)
    period = _period(promotion, _in_hours(promotion, local)[1])
    if period is not None:
        awards = awards.filter(awarded_at__gte=period[0], awarded_at__lt=period[1])
    return awards.aggregate(total=Sum("points"))["total"] or 0


def _promotions(promotions: list[Promotion], lines: list[_Line], *, member, tier, branch_id, channel: str,
                total: Decimal, at: datetime, policy: EarnPolicy, result: CurrencyEarn) -> None:
    local = timezone.localtime(at, BANGKOK)
    stopped_by = None
    brand_left = policy.bonus_cap_per_bill
    for promotion in promotions:
        name = promotion.name
        data = {"promotion": promotion.pk, "name": name}
        if not promotion.is_active:
            result.note("promotion_inactive", _("Promotion “%(name)s” is not active: shown for this preview only.")
                        % {"name": name}, **data)
        if stopped_by is not None:
            result.note("promotion", _("Promotion “%(name)s” skipped: stopped by the exclusive promotion "
                                       "“%(by)s”.") % {"name": name, "by": stopped_by.name},
                        applied=False, reason="stopped_by_exclusive", by=stopped_by.pk, **data)
            continue
        skip = _skip_reason(promotion, at=at, local=local, tier=tier, branch_id=branch_id, channel=channel,
                            total=total)
        points, how = (0, "") if skip else _promotion_points(promotion, lines, policy)
        if skip is None and points <= 0:
            skip = "no_points", _("no line of the bill earns from it")
        if skip is not None:
            code, why = skip
            result.note("promotion", _("Promotion “%(name)s” skipped: %(why)s.") % {"name": name, "why": why},
                        applied=False, reason=code, **data)
            continue
        capped = []
        if promotion.cap_per_bill is not None and points > promotion.cap_per_bill:
            points = promotion.cap_per_bill
            capped.append(_("capped at %(cap)s points per bill") % {"cap": promotion.cap_per_bill})
        if promotion.cap_per_member is not None:
            if member is None:
                capped.append(_("cap per member not checked (no member)"))
            else:
                used = _member_used(promotion, member, local)
                left = max(0, promotion.cap_per_member - used)
                if points > left:
                    points = left
                    capped.append(_("capped at %(cap)s points per member %(period)s (%(used)s already given)") % {
                        "cap": promotion.cap_per_member, "period": promotion.get_cap_period_display(),
                        "used": used})
        if points <= 0:
            result.note("promotion", _("Promotion “%(name)s” skipped: %(why)s.") % {
                "name": name, "why": "; ".join(str(c) for c in capped)},
                applied=False, reason="capped", **data)
            continue
        own_points = points
        if brand_left is not None and points > brand_left:
            points = brand_left
            capped.append(_("cut to %(points)s by the brand's cap of %(cap)s bonus points per bill") % {
                "points": points, "cap": policy.bonus_cap_per_bill})
        if brand_left is not None:
            brand_left -= points
        text = _("Promotion “%(name)s”: +%(points)s points (%(how)s).") % {"name": name, "points": points,
                                                                            "how": how}
        if capped:
            text = f"{text} {'; '.join(str(c) for c in capped)}."
        result.note("promotion", text, applied=True, points=points, before_brand_cap=own_points,
                    capped=[str(c) for c in capped], **data)
        if points > 0:
            result.awards.append(PromotionPoints(promotion, points))
        if promotion.exclusive:
            stopped_by = promotion
            result.note("exclusive", _("Promotion “%(name)s” is exclusive: the promotions after it do not apply.")
                        % {"name": name}, promotion=promotion.pk)


def earn_compute(*, brand, member, channel: str, branch, total: Decimal, lines, at: datetime,
                 currency: PointCurrency | None = None, tier=_UNSET,
                 include_inactive: bool = False, setup: EarnSetup | None = None) -> list[CurrencyEarn]:
    """What a bill earns, one ``CurrencyEarn`` per currency the brand earns in (or only ``currency``).

    Reads only; writes nothing. ``member`` may be None (a preview): then per-member caps
    are not checked and ``tier`` (a ``Tier`` or None) stands for the member's tier.
    ``include_inactive`` also applies promotions saved inactive (the staff preview).
    ``setup``: what ``earn_setup(brand=brand)`` returned, when the caller already read it (a
    cached snapshot also brings the policy, the promotions and the tier program's state).
    For race-free per-member caps the caller holds the lock on the member's accounts.
    Raises ``ValueError`` when a rule uses another brand's unshared currency.
    """
    total = Decimal(total).quantize(CENT)
    if currency is not None:
        currencies, setup = [currency], None
    else:
        setup = setup if setup is not None else earn_setup(brand=brand)
        currencies = setup.currencies
    if not currencies:
        return []
    policy = setup.policy if setup is not None and setup.policy is not None else (
        EarnPolicy.objects.filter(brand=brand).first() or EarnPolicy(brand=brand))
    branch_id = branch.pk if branch is not None else None
    if currency is not None:
        rules = list(EarnRule.objects.filter(brand=brand, is_active=True, currency__in=currencies))
    else:  # every active rule of the brand is in one of its earn currencies
        rules = setup.rules
    promotions = setup.promotions_for(at) if setup is not None and not include_inactive else None
    from_snapshot = promotions is not None
    if promotions is None:
        promotions = list(promotions_query(brand=brand, currencies=currencies, include_inactive=include_inactive)
                          .filter(ends_at__gt=at - RECENT, starts_at__lte=at + RECENT))
    if tier is _UNSET:
        # The snapshot knows when no tier multiplies and no promotion it holds is limited to tiers.
        tier = None if from_snapshot and not setup.tier_matters else member_tier(member, setup=setup)
    results = []
    for current in currencies:
        result = CurrencyEarn(currency=current)
        bill_lines = _lines(lines, total, result)
        result.base_points = _base(bill_lines, [r for r in rules if r.currency_id == current.pk],
                                   branch_id=branch_id, channel=channel, total=total, policy=policy, result=result)
        if tier is not None and tier.earn_multiplier > 1 and result.base_points > 0:
            result.tier_points = _round(Decimal(result.base_points) * (tier.earn_multiplier - 1), policy.rounding)
            result.note("tier", _("Tier %(tier)s earns ×%(multiplier)s: +%(points)s points.") % {
                "tier": tier.name, "multiplier": _exact(tier.earn_multiplier), "points": result.tier_points},
                tier=tier.pk, multiplier=_exact(tier.earn_multiplier), points=result.tier_points)
        _promotions([p for p in promotions if p.currency_id == current.pk], bill_lines, member=member, tier=tier,
                    branch_id=branch_id, channel=channel, total=total, at=at, policy=policy, result=result)
        result.bonus_points = sum(award.points for award in result.awards)
        result.points = max(0, result.base_points + result.tier_points + result.bonus_points)
        result.note("total", _("Total: %(base)s base + %(tier)s tier + %(bonus)s promotions = %(points)s %(currency)s.")
                    % {"base": result.base_points, "tier": result.tier_points, "bonus": result.bonus_points,
                       "points": result.points, "currency": current.name},
                    base=result.base_points, tier=result.tier_points, bonus=result.bonus_points,
                    points=result.points)
        results.append(result)
    return results

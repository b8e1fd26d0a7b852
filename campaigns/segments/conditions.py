"""The condition types of a segment definition (issue 9).

Each type knows how to ``clean`` its JSON (normalised values, or ``ConditionInvalid`` naming
the field), ``compile`` it into a ``Q`` over ``Member`` (related tables only through
``pk__in`` subqueries, which PostgreSQL runs as one hashed semi-join whether the condition
sits under AND or OR), ``describe`` it in one line for staff, and list its ``params`` for
the admin builder. The tree (AND/OR groups) lives in ``campaigns.segments.definition``.

Times: "the last N days" counts back from the evaluation time; dates are Bangkok days
(since a date: from its 00:00; until a date: to the end of that day); ages and birth
months use the Bangkok date of the evaluation time.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Trim, Upper
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.models import MemberTier, PointAccount, PointCurrency, PurchaseLine, Reward, Tier, TierProgram
from loyalty.services.tiers import brand_tiers, entry_tier
from members.models import Branch, Member, ProfileField

from .models import MemberPurchaseMonth, MemberStats, MemberTag, MemberTagging, RfmGroup

BANGKOK = ZoneInfo("Asia/Bangkok")
MAX_CODES = 5
MAX_MEMBER_CODES = 1000


class ConditionInvalid(Exception):
    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
        super().__init__(message)


@dataclass(frozen=True)
class Context:
    """What a definition is evaluated against: the brand and the evaluation time.

    ``brand_ids`` widens the brand-scoped tables to several brands at once; only the
    benchmark uses it (to count over every seeded member as if one brand).
    """

    brand_id: int
    now: datetime
    brand_ids: tuple[int, ...] = ()

    @property
    def brands(self) -> tuple[int, ...]:
        return self.brand_ids or (self.brand_id,)

    @property
    def today(self) -> date:
        return timezone.localtime(self.now, BANGKOK).date()


def bangkok_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=BANGKOK)


def month_of(moment: datetime) -> date:
    return timezone.localtime(moment, BANGKOK).date().replace(day=1)


# --- value cleaning -------------------------------------------------------------------------------


def _int(raw, field: str, *, minimum: int, maximum: int, required: bool = True) -> int | None:
    if raw in (None, ""):
        if required:
            raise ConditionInvalid(field, _("Enter a whole number."))
        return None
    try:
        value = int(str(raw).strip())
    except ValueError as error:
        raise ConditionInvalid(field, _("Enter a whole number.")) from error
    if not minimum <= value <= maximum:
        raise ConditionInvalid(field, _("Enter a number from %(minimum)s to %(maximum)s.")
                               % {"minimum": minimum, "maximum": maximum})
    return value


def _amount(raw, field: str) -> Decimal:
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, TypeError) as error:
        raise ConditionInvalid(field, _("Enter an amount in THB.")) from error
    if not value.is_finite() or value < 0 or value >= Decimal("10000000000"):
        raise ConditionInvalid(field, _("Enter an amount in THB."))
    return value.quantize(Decimal("0.01"))


def _date(raw, field: str, *, required: bool = True) -> date | None:
    if raw in (None, ""):
        if required:
            raise ConditionInvalid(field, _("Enter a date (YYYY-MM-DD)."))
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError as error:
        raise ConditionInvalid(field, _("Enter a date (YYYY-MM-DD).")) from error


def _list(raw, field: str, *, maximum: int) -> list[str]:
    """A list of non-empty strings (a comma- or line-separated string is split)."""
    if isinstance(raw, str):
        raw = raw.replace("\n", ",").split(",")
    if not isinstance(raw, list):
        raise ConditionInvalid(field, _("Choose at least one."))
    values = []
    for item in raw:
        text = str(item).strip()
        if text and text not in values:
            values.append(text)
    if not values:
        raise ConditionInvalid(field, _("Choose at least one."))
    if len(values) > maximum:
        raise ConditionInvalid(field, _("Choose at most %(maximum)s.") % {"maximum": maximum})
    return values


def _choose(raw, field: str, allowed, *, maximum: int = 100) -> list:
    """Values of ``allowed`` (a dict of str(value) -> value), in the order given."""
    values = _list(raw, field, maximum=maximum)
    unknown = [value for value in values if value not in allowed]
    if unknown:
        raise ConditionInvalid(field, _("Unknown: %(values)s.") % {"values": ", ".join(unknown[:10])})
    return [allowed[value] for value in values]


def _one_of(raw, field: str, allowed: list[str]) -> str:
    if raw not in allowed:
        raise ConditionInvalid(field, _("Choose one of: %(values)s.") % {"values": ", ".join(allowed)})
    return raw


def _or(labels: list[str]) -> str:
    return _(" or ").join(labels)


def _stats(ctx: Context, **filters) -> Q:
    return Q(pk__in=MemberStats.objects.filter(brand_id__in=ctx.brands, **filters).values("member_id"))


# --- the types ------------------------------------------------------------------------------------


class ConditionType:
    key = ""

    def label(self) -> str:
        raise NotImplementedError

    def params(self, brand) -> list[dict]:
        return []

    def clean(self, raw: dict, brand) -> dict:
        return {}

    def compile(self, condition: dict, ctx: Context) -> Q:
        raise NotImplementedError

    def describe(self, condition: dict, brand) -> str:
        raise NotImplementedError


class AllMembers(ConditionType):
    key = "all"

    def label(self):
        return _("All members")

    def compile(self, condition, ctx):
        return Q(pk__isnull=False)  # not Q(): an empty Q vanishes from an OR

    def describe(self, condition, brand):
        return _("all members")


def rfm_options():
    return [[group.value, str(group.label)] for group in RfmGroup]


class Rfm(ConditionType):
    key = "rfm"

    def label(self):
        return _("RFM group")

    def params(self, brand):
        return [{"name": "groups", "label": _("Groups"), "kind": "multi", "options": rfm_options()}]

    def clean(self, raw, brand):
        return {"groups": _choose(raw.get("groups"), "groups", {g.value: g.value for g in RfmGroup})}

    def compile(self, condition, ctx):
        return _stats(ctx, rfm_group__in=condition["groups"])

    def describe(self, condition, brand):
        labels = dict(RfmGroup.choices)
        return _("RFM = %(groups)s") % {"groups": _or([str(labels[g]) for g in condition["groups"]])}


class Purchased(ConditionType):
    """Bought any of up to 5 SKUs or categories, optionally within a period (purchase months)."""

    key = "purchased"

    def label(self):
        return _("Bought (SKU or category)")

    def params(self, brand):
        return [
            {"name": "by", "label": _("Match"), "kind": "select",
             "options": [["sku", _("SKU")], ["category", _("Category")]]},
            {"name": "codes", "label": _("Codes (up to 5, comma-separated)"), "kind": "list"},
            {"name": "days", "label": _("In the last N days"), "kind": "int", "optional": True},
            {"name": "since", "label": _("Since"), "kind": "date", "optional": True},
            {"name": "until", "label": _("Until"), "kind": "date", "optional": True},
        ]

    def clean(self, raw, brand):
        cleaned = {"by": _one_of(raw.get("by", "sku"), "by", ["sku", "category"]),
                   "codes": [code.upper() for code in _list(raw.get("codes"), "codes", maximum=MAX_CODES)]}
        days = _int(raw.get("days"), "days", minimum=1, maximum=3660, required=False)
        since = _date(raw.get("since"), "since", required=False)
        until = _date(raw.get("until"), "until", required=False)
        if days is not None and (since or until):
            raise ConditionInvalid("days", _("Give either the last N days or dates, not both."))
        if since and until and until < since:
            raise ConditionInvalid("until", _("The end date is before the start date."))
        if days is not None:
            cleaned["days"] = days
        if since:
            cleaned["since"] = since.isoformat()
        if until:
            cleaned["until"] = until.isoformat()
        return cleaned

    @staticmethod
    def window(condition, ctx) -> tuple[datetime | None, datetime | None]:
        """[since, until) of the condition at ``ctx.now``; None: open."""
        if "days" in condition:
            return ctx.now - timedelta(days=condition["days"]), None
        since = bangkok_midnight(date.fromisoformat(condition["since"])) if "since" in condition else None
        until = (bangkok_midnight(date.fromisoformat(condition["until"]) + timedelta(days=1))
                 if "until" in condition else None)
        return since, until

    def compile(self, condition, ctx):
        since, until = self.window(condition, ctx)
        rows = MemberPurchaseMonth.objects.filter(brand_id__in=ctx.brands, kind=condition["by"],
                                                  code__in=condition["codes"])
        if since is not None:
            rows = rows.filter(month__gte=month_of(since), last_at__gte=since)
        if until is not None:
            rows = rows.filter(month__lte=month_of(until - timedelta(microseconds=1)), first_at__lt=until)
        if since is not None and until is not None and month_of(since) == month_of(until - timedelta(microseconds=1)):
            # Both ends in one month: the month's first..last purchase may straddle the
            # window with nothing inside it; only those rows are checked on the lines.
            field = "sku" if condition["by"] == "sku" else "category"
            lines = (PurchaseLine.objects.annotate(matched=Upper(Trim(field)))
                     .filter(purchase__member_id=OuterRef("member_id"), matched__in=condition["codes"],
                             purchase__purchased_at__gte=since, purchase__purchased_at__lt=until)
                     .exclude(purchase__status="refunded"))
            rows = rows.filter(Q(first_at__gte=since) | Q(last_at__lt=until) | Exists(lines))
        return Q(pk__in=rows.values("member_id"))

    def describe(self, condition, brand):
        codes = _or(condition["codes"])
        text = (_("bought SKU %(codes)s") if condition["by"] == "sku" else _("bought category %(codes)s")) % {
            "codes": codes}
        if "days" in condition:
            if condition["days"] == 1:
                return text + " " + _("in the last day")
            return text + " " + _("in the last %(days)s days") % {"days": condition["days"]}
        if "since" in condition and "until" in condition:
            return text + " " + _("from %(since)s to %(until)s") % condition
        if "since" in condition:
            return text + " " + _("since %(since)s") % condition
        if "until" in condition:
            return text + " " + _("until %(until)s") % condition
        return text


class Tags(ConditionType):
    key = "tags"

    def label(self):
        return _("Tags")

    def params(self, brand):
        tags = MemberTag.objects.filter(brand=brand).order_by("name")
        return [
            {"name": "tags", "label": _("Tags"), "kind": "multi", "options": [[t.pk, t.name] for t in tags]},
            {"name": "match", "label": _("Match"), "kind": "select",
             "options": [["any", _("Any of them")], ["all", _("All of them")]]},
        ]

    def clean(self, raw, brand):
        allowed = {str(pk): pk for pk in MemberTag.objects.filter(brand=brand).values_list("pk", flat=True)}
        return {"tags": _choose(raw.get("tags"), "tags", allowed, maximum=20),
                "match": _one_of(raw.get("match", "any"), "match", ["any", "all"])}

    def compile(self, condition, ctx):
        def tagged(tag_ids):
            return Q(pk__in=MemberTagging.objects.filter(tag_id__in=tag_ids).values("member_id"))

        if condition["match"] == "any":
            return tagged(condition["tags"])
        q = Q()
        for tag_id in condition["tags"]:
            q &= tagged([tag_id])
        return q

    def describe(self, condition, brand):
        names = dict(MemberTag.objects.filter(pk__in=condition["tags"]).values_list("pk", "name"))
        labels = [names.get(pk, "?") for pk in condition["tags"]]
        if condition["match"] == "all":
            return _("tagged %(tags)s") % {"tags": _(" and ").join(labels)}
        return _("tagged %(tags)s") % {"tags": _or(labels)}


def brand_currencies(brand):
    return PointCurrency.objects.filter(Q(brand=brand) | Q(shared_with=brand)).distinct().order_by("-is_default", "code")


class Points(ConditionType):
    key = "points"

    def label(self):
        return _("Points balance")

    def params(self, brand):
        options = [["", _("Default currency")]] + [[c.code, c.name] for c in brand_currencies(brand)]
        return [{"name": "currency", "label": _("Currency"), "kind": "select", "options": options},
                {"name": "min", "label": _("At least"), "kind": "int", "optional": True},
                {"name": "max", "label": _("At most"), "kind": "int", "optional": True}]

    def clean(self, raw, brand):
        code = raw.get("currency") or ""
        if code:
            currency = brand_currencies(brand).filter(code=code).first()
            if currency is None:
                raise ConditionInvalid("currency", _("Unknown currency."))
        cleaned = {"currency": code,
                   "min": _int(raw.get("min"), "min", minimum=0, maximum=10**12, required=False),
                   "max": _int(raw.get("max"), "max", minimum=0, maximum=10**12, required=False)}
        if cleaned["min"] is None and cleaned["max"] is None:
            raise ConditionInvalid("min", _("Give a minimum, a maximum or both."))
        if cleaned["min"] is not None and cleaned["max"] is not None and cleaned["max"] < cleaned["min"]:
            raise ConditionInvalid("max", _("The maximum is below the minimum."))
        return cleaned

    @staticmethod
    def currency_id(condition, brand_id) -> int | None:
        currencies = PointCurrency.objects.filter(Q(brand_id=brand_id) | Q(shared_with=brand_id))
        if condition["currency"]:
            currencies = currencies.filter(code=condition["currency"])
        else:
            currencies = currencies.filter(brand_id=brand_id, is_default=True)
        return currencies.values_list("pk", flat=True).first()

    def compile(self, condition, ctx):
        currency_id = self.currency_id(condition, ctx.brand_id)
        if currency_id is None:
            return Q(pk__in=[])
        accounts = PointAccount.objects.filter(currency_id=currency_id)
        low, high = condition["min"], condition["max"]
        if not low:  # from 0: a member without an account (0 points) is in; exclude those above the range
            # NOT EXISTS, not NOT IN: an anti-join PostgreSQL can hash or merge (NOT IN is a subplan).
            return ~Q(Exists(accounts.filter(member_id=OuterRef("pk"), balance__gt=high))) if high is not None else Q(
                pk__isnull=False)
        in_range = accounts.filter(balance__gte=low)
        if high is not None:
            in_range = in_range.filter(balance__lte=high)
        return Q(pk__in=in_range.values("member_id"))

    def describe(self, condition, brand):
        low, high = condition["min"], condition["max"]
        if low is not None and high is not None:
            text = _("points balance %(min)s–%(max)s") % {"min": f"{low:,}", "max": f"{high:,}"}
        elif low is not None:
            text = _("points balance ≥ %(min)s") % {"min": f"{low:,}"}
        else:
            text = _("points balance ≤ %(max)s") % {"max": f"{high:,}"}
        return text + (f" ({condition['currency']})" if condition["currency"] else "")


def month_options():
    from django.utils.dates import MONTHS

    return [[number, str(name)] for number, name in MONTHS.items()]


class BirthMonth(ConditionType):
    key = "birth_month"

    def label(self):
        return _("Birth month")

    def params(self, brand):
        return [{"name": "months", "label": _("Months"), "kind": "multi", "options": month_options()}]

    def clean(self, raw, brand):
        return {"months": sorted(_choose(raw.get("months"), "months", {str(n): n for n in range(1, 13)}, maximum=12))}

    def compile(self, condition, ctx):
        return Q(birth_date__month__in=condition["months"])

    def describe(self, condition, brand):
        names = dict(month_options())
        return _("born in %(months)s") % {"months": _or([names[m] for m in condition["months"]])}


class TierCondition(ConditionType):
    key = "tier"

    def label(self):
        return _("Tier")

    def params(self, brand):
        return [{"name": "tiers", "label": _("Tiers"), "kind": "multi",
                 "options": [[t.code, t.name] for t in Tier.objects.filter(brand=brand).order_by("rank")]}]

    def clean(self, raw, brand):
        allowed = {code: code for code in Tier.objects.filter(brand=brand).values_list("code", flat=True)}
        return {"tiers": _choose(raw.get("tiers"), "tiers", allowed, maximum=20)}

    def compile(self, condition, ctx):
        program = TierProgram.objects.filter(brand_id=ctx.brand_id).only("is_active").first()
        if program is None or not program.is_active:
            return Q(pk__in=[])  # no programme running: nobody has a tier
        tiers = brand_tiers(ctx.brand_id)
        chosen = [tier.pk for tier in tiers if tier.code in condition["tiers"]]
        entry = entry_tier(tiers)
        if entry is not None and entry.pk in chosen:
            # A member without a row yet is on the entry tier. A member has at most one row, so
            # "a chosen tier or no row" is "no row with another tier": one anti-join instead of
            # an OR of two subqueries over the whole table.
            return ~Q(Exists(MemberTier.objects.filter(member_id=OuterRef("pk"), brand_id__in=ctx.brands)
                             .exclude(tier_id__in=chosen)))
        return Q(pk__in=MemberTier.objects.filter(brand_id__in=ctx.brands, tier_id__in=chosen).values("member_id"))

    def describe(self, condition, brand):
        names = dict(Tier.objects.filter(brand=brand).values_list("code", "name"))
        return _("tier %(tiers)s") % {"tiers": _or([names.get(code, code) for code in condition["tiers"]])}


class Pending(ConditionType):
    key = "pending"

    def label(self):
        return _("Pending members (never registered)")

    def compile(self, condition, ctx):
        return Q(status=Member.Status.PENDING, registered_at__isnull=True, user__isnull=True)

    def describe(self, condition, brand):
        return _("pending members (never registered)")


class Individuals(ConditionType):
    key = "members"

    def label(self):
        return _("Chosen members")

    def params(self, brand):
        return [{"name": "codes", "label": _("Member codes (comma-separated)"), "kind": "list"}]

    def clean(self, raw, brand):
        codes = [code.upper() for code in _list(raw.get("codes"), "codes", maximum=MAX_MEMBER_CODES)]
        known = set(Member.objects.filter(brand=brand, code__in=codes).values_list("code", flat=True))
        unknown = [code for code in codes if code not in known]
        if unknown:
            raise ConditionInvalid("codes", _("No member of this brand has the code: %(codes)s.")
                                   % {"codes": ", ".join(unknown[:10])})
        return {"codes": codes}

    def compile(self, condition, ctx):
        return Q(code__in=condition["codes"])

    def describe(self, condition, brand):
        codes = condition["codes"]
        shown = ", ".join(codes[:5]) + (" …" if len(codes) > 5 else "")
        if len(codes) == 1:
            return _("member %(codes)s") % {"codes": shown}
        return _("%(count)s chosen members (%(codes)s)") % {"codes": shown, "count": len(codes)}


class RewardEligible(ConditionType):
    key = "reward_eligible"

    def label(self):
        return _("Can redeem a reward")

    def params(self, brand):
        rewards = Reward.objects.filter(brand=brand, redeemable=True).order_by("points_cost", "name")
        return [{"name": "reward", "label": _("Reward"), "kind": "select",
                 "options": [[r.pk, f"{r.name} ({r.points_cost:,})"] for r in rewards]}]

    def clean(self, raw, brand):
        try:
            reward_id = int(raw.get("reward"))
        except (TypeError, ValueError) as error:
            raise ConditionInvalid("reward", _("Choose a reward.")) from error
        if not Reward.objects.filter(brand=brand, pk=reward_id, redeemable=True).exists():
            raise ConditionInvalid("reward", _("Choose a reward."))
        return {"reward": reward_id}

    def compile(self, condition, ctx):
        reward = Reward.objects.filter(pk=condition["reward"], brand_id=ctx.brand_id).first()
        if reward is None:
            return Q(pk__in=[])
        return Q(pk__in=PointAccount.objects.filter(currency_id=reward.currency_id,
                                                    balance__gte=reward.points_cost).values("member_id"))

    def describe(self, condition, brand):
        reward = Reward.objects.filter(pk=condition["reward"]).first()
        return _("can redeem “%(reward)s”") % {"reward": reward.name if reward else "?"}


class FavouriteBranch(ConditionType):
    key = "favourite_branch"

    def label(self):
        return _("Branch most visited")

    def params(self, brand):
        return [{"name": "branches", "label": _("Branches"), "kind": "multi",
                 "options": [[b.code, str(b)] for b in Branch.objects.filter(brand=brand).order_by("code")]}]

    def clean(self, raw, brand):
        allowed = {code: code for code in Branch.objects.filter(brand=brand).values_list("code", flat=True)}
        return {"branches": _choose(raw.get("branches"), "branches", allowed, maximum=100)}

    def compile(self, condition, ctx):
        ids = list(Branch.objects.filter(brand_id=ctx.brand_id, code__in=condition["branches"])
                   .values_list("pk", flat=True))
        return _stats(ctx, favourite_branch_id__in=ids)

    def describe(self, condition, brand):
        return _("most visits at %(branches)s") % {"branches": _or(condition["branches"])}


def weekday_options():
    from django.utils.dates import WEEKDAYS

    return [[number + 1, str(name)] for number, name in WEEKDAYS.items()]


class UsualTime(ConditionType):
    key = "usual_time"

    def label(self):
        return _("Usual day and hour of buying")

    def params(self, brand):
        return [{"name": "weekdays", "label": _("Weekdays"), "kind": "multi", "options": weekday_options(),
                 "optional": True},
                {"name": "hour_from", "label": _("From hour (0-23)"), "kind": "int", "optional": True},
                {"name": "hour_to", "label": _("To hour (0-23)"), "kind": "int", "optional": True}]

    def clean(self, raw, brand):
        cleaned = {}
        if raw.get("weekdays") not in (None, "", []):
            cleaned["weekdays"] = sorted(_choose(raw.get("weekdays"), "weekdays", {str(n): n for n in range(1, 8)}))
        start = _int(raw.get("hour_from"), "hour_from", minimum=0, maximum=23, required=False)
        end = _int(raw.get("hour_to"), "hour_to", minimum=0, maximum=23, required=False)
        if start is not None or end is not None:
            cleaned["hour_from"], cleaned["hour_to"] = start if start is not None else 0, end if end is not None else 23
            if cleaned["hour_to"] < cleaned["hour_from"]:
                raise ConditionInvalid("hour_to", _("The last hour is before the first."))
        if not cleaned:
            raise ConditionInvalid("weekdays", _("Choose weekdays, hours or both."))
        return cleaned

    def compile(self, condition, ctx):
        filters = {}
        if "weekdays" in condition:
            filters["usual_weekday__in"] = condition["weekdays"]
        if "hour_from" in condition:
            filters["usual_hour__range"] = (condition["hour_from"], condition["hour_to"])
        return _stats(ctx, **filters)

    def describe(self, condition, brand):
        parts = []
        if "weekdays" in condition:
            names = dict(weekday_options())
            parts.append(_("on %(days)s") % {"days": _or([names[d] for d in condition["weekdays"]])})
        if "hour_from" in condition:
            parts.append(_("between %(start)s:00 and %(end)s:59") % {
                "start": f"{condition['hour_from']:02d}", "end": f"{condition['hour_to']:02d}"})
        return _("usually buys %(when)s") % {"when": " ".join(parts)}


class AverageTicket(ConditionType):
    key = "average_ticket"

    def label(self):
        return _("Average ticket")

    def params(self, brand):
        return [{"name": "compare", "label": _("Compare"), "kind": "select",
                 "options": [["gte", _("at least (high)")], ["lte", _("at most (low)")]]},
                {"name": "amount", "label": _("Amount (THB)"), "kind": "decimal"}]

    def clean(self, raw, brand):
        return {"compare": _one_of(raw.get("compare", "gte"), "compare", ["gte", "lte"]),
                "amount": str(_amount(raw.get("amount"), "amount"))}

    def compile(self, condition, ctx):
        return _stats(ctx, **{f"average_ticket__{condition['compare']}": Decimal(condition["amount"])})

    def describe(self, condition, brand):
        sign = "≥" if condition["compare"] == "gte" else "≤"
        return _("average ticket %(sign)s %(amount)s THB") % {"sign": sign, "amount": condition["amount"]}


class LastPurchase(ConditionType):
    key = "last_purchase"

    def label(self):
        return _("Last purchase before / after a date")

    def params(self, brand):
        return [{"name": "compare", "label": _("Compare"), "kind": "select",
                 "options": [["before", _("before")], ["after", _("after")]]},
                {"name": "date", "label": _("Date"), "kind": "date"}]

    def clean(self, raw, brand):
        return {"compare": _one_of(raw.get("compare", "before"), "compare", ["before", "after"]),
                "date": _date(raw.get("date"), "date").isoformat()}

    def compile(self, condition, ctx):
        day = date.fromisoformat(condition["date"])
        if condition["compare"] == "before":
            return _stats(ctx, last_purchase_at__lt=bangkok_midnight(day))
        return _stats(ctx, last_purchase_at__gte=bangkok_midnight(day + timedelta(days=1)))

    def describe(self, condition, brand):
        if condition["compare"] == "before":
            return _("last purchase before %(date)s") % condition
        return _("last purchase after %(date)s") % condition


class ProfileFieldCondition(ConditionType):
    key = "profile_field"

    def label(self):
        return _("Profile field")

    def params(self, brand):
        fields = ProfileField.objects.filter(brand=brand, is_active=True)
        return [{"name": "field", "label": _("Field"), "kind": "select",
                 "options": [[f.key, f.label_th] for f in fields]},
                {"name": "values", "label": _("Any of these values (comma-separated)"), "kind": "list"}]

    def clean(self, raw, brand):
        field = ProfileField.objects.filter(brand=brand, key=raw.get("field") or "").first()
        if field is None:
            raise ConditionInvalid("field", _("Choose a profile field."))
        values = _list(raw.get("values"), "values", maximum=20)
        if field.kind in (ProfileField.Kind.CHOICE, ProfileField.Kind.MULTI_CHOICE):
            allowed = {str(choice.get("value")): str(choice.get("value")) for choice in field.choices}
            values = _choose(values, "values", allowed, maximum=20)
        return {"field": field.key, "values": values}

    def compile(self, condition, ctx):
        field = ProfileField.objects.filter(brand_id=ctx.brand_id, key=condition["field"]).first()
        multi = field is not None and field.kind == ProfileField.Kind.MULTI_CHOICE
        q = Q(pk__in=[])
        for value in condition["values"]:
            q |= Q(custom_fields__contains={condition["field"]: [value] if multi else value})
        return q

    def describe(self, condition, brand):
        field = ProfileField.objects.filter(brand=brand, key=condition["field"]).first()
        label = field.label_th if field else condition["field"]
        values = [field.choice_label(v, "th") if field else v for v in condition["values"]]
        return _("%(field)s is %(values)s") % {"field": label, "values": _or(values)}


class Gender(ConditionType):
    key = "gender"
    UNSPECIFIED = "unspecified"  # Member.gender "" (not given)

    def options(self):
        return [[value or self.UNSPECIFIED, str(label)] for value, label in Member.Gender.choices]

    def label(self):
        return _("Gender")

    def params(self, brand):
        return [{"name": "genders", "label": _("Genders"), "kind": "multi", "options": self.options()}]

    def clean(self, raw, brand):
        allowed = {value: value for value, _label in self.options()}
        return {"genders": _choose(raw.get("genders"), "genders", allowed)}

    def compile(self, condition, ctx):
        return Q(gender__in=["" if g == self.UNSPECIFIED else g for g in condition["genders"]])

    def describe(self, condition, brand):
        labels = dict(self.options())
        return _("gender %(genders)s") % {"genders": _or([labels[g] for g in condition["genders"]])}


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


class AgeBand(ConditionType):
    key = "age"

    def label(self):
        return _("Age band")

    def params(self, brand):
        return [{"name": "min", "label": _("From age"), "kind": "int", "optional": True},
                {"name": "max", "label": _("To age"), "kind": "int", "optional": True}]

    def clean(self, raw, brand):
        low = _int(raw.get("min"), "min", minimum=0, maximum=130, required=False)
        high = _int(raw.get("max"), "max", minimum=0, maximum=130, required=False)
        if low is None and high is None:
            raise ConditionInvalid("min", _("Give a youngest age, an oldest age or both."))
        if low is not None and high is not None and high < low:
            raise ConditionInvalid("max", _("The oldest age is below the youngest."))
        return {"min": low, "max": high}

    def compile(self, condition, ctx):
        today = ctx.today
        q = Q(birth_date__isnull=False)
        if condition["min"] is not None:  # had their min-th birthday by today
            q &= Q(birth_date__lte=years_before(today, condition["min"]))
        if condition["max"] is not None:  # not yet had their (max + 1)-th birthday
            q &= Q(birth_date__gt=years_before(today, condition["max"] + 1))
        return q

    def describe(self, condition, brand):
        low, high = condition["min"], condition["max"]
        if low is not None and high is not None:
            return _("aged %(min)s–%(max)s") % condition
        if low is not None:
            return _("aged %(min)s or older") % condition
        return _("aged %(max)s or younger") % condition


TYPES: dict[str, ConditionType] = {
    kind.key: kind for kind in (
        AllMembers(), Rfm(), Purchased(), Tags(), Points(), BirthMonth(), TierCondition(), Pending(),
        Individuals(), RewardEligible(), FavouriteBranch(), UsualTime(), AverageTicket(), LastPurchase(),
        ProfileFieldCondition(), Gender(), AgeBand(),
    )
}

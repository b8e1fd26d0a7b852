"""A brand's earn configuration, read once per purchase, or from a short per-process cache.

``purchase_record`` runs on every till: reading the rules, policy, promotions and the
tier program's state anew for each bill is five queries that staff change a few times a
week. ``earn_setup(brand=..., cached=True)`` keeps one snapshot per brand in this process
for ``EARN_CONFIG_TTL`` seconds (settings, default 5). A save, delete or many-to-many
change of any model it holds, in this process, drops every snapshot at once and again when
it commits (signals, connected in ``LoyaltyConfig.ready``); other processes see the change
within the TTL. A snapshot read inside a transaction is used but not kept. A purchase that
would award a promotion deleted since the snapshot was read is rolled back and recorded
again from the database (``purchase_record``).
The staff preview, the cashier preview and every other caller read uncached.

Promotions: the snapshot holds every active promotion of the brand's earn currencies
that ended less than ``RECENT`` + one day before it was read (later ones included); a
bill dated earlier than a day before the snapshot reads its promotions from the
database instead.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from config.process_cache import ProcessCache
from loyalty.models import EarnPolicy, EarnRule, PointCurrency, Promotion, Tier, TierProgram

from .tiers import brand_tiers, entry_tier, program_state

RECENT = timedelta(days=7)  # promotions that ended or start this close to the bill are explained too
MARGIN = timedelta(days=1)  # a cached snapshot serves bills dated up to this long before it was read

_cache = ProcessCache("earn_setup", ttl_setting="EARN_CONFIG_TTL", default_ttl=5)


@dataclass
class EarnSetup:
    currencies: list[PointCurrency]
    rules: list[EarnRule]
    policy: EarnPolicy | None = None
    promotions: list[Promotion] | None = None  # None: read per bill
    read_at: datetime | None = None
    tier_program: str = "none"  # "none", "off" (switched off: nobody has a tier) or "on"
    entry_tier: Tier | None = None
    # False when no tier earns more than x1 and no promotion of the snapshot is limited to tiers:
    # then the member's tier cannot change what a bill earns and is not read.
    tier_matters: bool = True

    def promotions_for(self, at: datetime) -> list[Promotion] | None:
        """The promotions a bill dated ``at`` may meet (as the query would find them), or None."""
        if self.promotions is None or self.read_at is None or at < self.read_at - MARGIN:
            return None
        return [p for p in self.promotions if p.ends_at > at - RECENT and p.starts_at <= at + RECENT]


def read_setup(*, brand, full: bool = False) -> EarnSetup:
    """The brand's active rules and the currencies they earn in (default first, then by code).

    ``full`` also reads the policy, the promotions and the tier program (what a cached
    snapshot holds). Raises ``ValueError`` when a rule uses another brand's unshared currency.
    """
    rules = list(EarnRule.objects.filter(brand=brand, is_active=True).select_related("currency"))
    shared_ids = (set(PointCurrency.objects.filter(shared_with=brand).values_list("pk", flat=True))
                  if any(rule.currency.brand_id != brand.pk for rule in rules) else set())
    currencies = {}
    for rule in rules:
        currency = rule.currency
        if currency.brand_id != brand.pk and currency.pk not in shared_ids:
            raise ValueError(f"earn rule {rule.pk} uses currency {currency.pk} of another brand, not shared "
                             f"with brand {brand.pk}")
        currencies[currency.pk] = currency
    ordered = sorted(currencies.values(), key=lambda c: (not (c.is_default and c.brand_id == brand.pk), c.code, c.pk))
    setup = EarnSetup(currencies=ordered, rules=rules)
    if full and ordered:
        now = timezone.now()
        setup.read_at = now
        setup.policy = EarnPolicy.objects.filter(brand=brand).first() or EarnPolicy(brand=brand)
        setup.promotions = list(promotions_query(brand=brand, currencies=ordered)
                                .filter(ends_at__gt=now - RECENT - MARGIN))
        setup.tier_program = program_state(brand.pk)
        tiers = brand_tiers(brand.pk)
        setup.entry_tier = entry_tier(tiers) if setup.tier_program != "none" else None
        # Without a program a member may still hold a tier (a staff override): only "off" ignores it.
        setup.tier_matters = setup.tier_program != "off" and (
            any(tier.earn_multiplier > 1 for tier in tiers)
            or any(promotion.tiers.all() for promotion in setup.promotions))
    return setup


def promotions_query(*, brand, currencies, include_inactive: bool = False):
    """The brand's promotions in ``currencies``, in the order they apply, with their tiers and branches."""
    promotions = Promotion.objects.filter(brand=brand, currency__in=currencies)
    if not include_inactive:
        promotions = promotions.filter(is_active=True)
    return promotions.prefetch_related("tiers", "branches").order_by("priority", "id")


def earn_setup(*, brand, cached: bool = False) -> EarnSetup:
    """``read_setup(brand=brand)``; with ``cached``, the whole snapshot from this process's cache."""
    if not cached:
        return read_setup(brand=brand)
    setup = _cache.get(brand.pk)
    if setup is None:
        token = _cache.token()
        setup = read_setup(brand=brand, full=True)
        _cache.put(brand.pk, setup, token)  # kept only when read outside a transaction
    return setup


clear = _cache.clear


def connect_signals() -> None:
    _cache.clear_on_changes((EarnRule, EarnPolicy, Promotion, PointCurrency, TierProgram, Tier),
                            (Promotion.tiers.through, Promotion.branches.through, PointCurrency.shared_with.through))

"""LINE messages of the top spender races (Flex JSON, in the member's language)."""

from decimal import Decimal

from django.utils import translation
from django.utils.translation import gettext as _

from messaging.flex import _bubble, _button, _flex, _row, _text, liff_url


def amount_text(value: Decimal, metric: str) -> str:
    """``1,234.50 THB`` for spend, ``1,234 points`` for points (translated)."""
    if metric == "points":
        return _("%(points)s points") % {"points": f"{int(value):,}"}
    return _("%(amount)s THB") % {"amount": f"{value:,.2f}"}


def race_result(member, *, race, result) -> tuple[str, list[dict]]:
    """The winner's notice: final rank, value, and the prize given."""
    with translation.override(member.language):
        name = race.display_name(member.language)
        text = _("You finished #%(rank)s in %(race)s with %(value)s.") % {
            "rank": result.rank, "race": name, "value": amount_text(result.value, race.metric)}
        rows = [_text(text)]
        if result.prize_points:
            rows.append(_row(_("Prize points"), f"{result.prize_points:,}"))
        if result.prize_reward_id:
            reward = result.prize_reward
            rows.append(_row(_("Prize coupon"), reward.name_en if member.language == "en" and reward.name_en
                             else reward.name))
        buttons = [_button(_("See the results"), uri=liff_url(member.brand, f"races/{race.pk}"))]
        if result.prize_reward_id:
            buttons.append(_button(_("My coupons"), uri=liff_url(member.brand, "coupons"), primary=False))
        return "race_result", [_flex(text, _bubble(_("Top spender results"), rows, buttons))]

"""LINE messages of the lucky draws (Flex JSON), rendered in the member's language."""

from django.utils import translation
from django.utils.translation import gettext as _

from messaging.flex import _bubble, _button, _flex, _text, liff_url


def _draw_url(draw) -> str:
    return liff_url(draw.brand, f"draws/{draw.pk}")


def won(member, draw, prize, coupon=None) -> tuple[str, list[dict]]:
    """The winner's notice: what they won and where to find it."""
    with translation.override(member.language):
        draw_name, prize_name = draw.display_name(member.language), prize.display_name(member.language)
        text = _("Congratulations! You won %(prize)s in the lucky draw %(draw)s.") % {
            "prize": prize_name, "draw": draw_name}
        body = [_text(text, weight="bold")]
        buttons = [_button(_("See the results"), uri=_draw_url(draw))]
        if coupon is not None:
            body.append(_text(_("Your coupon is in My coupons."), size="sm", color="#555555"))
            buttons.insert(0, _button(_("My coupons"), uri=liff_url(draw.brand, "coupons")))
        elif prize.points:
            body.append(_text(_("%(points)s points were added to your account.") % {"points": f"{prize.points:,}"},
                              size="sm", color="#555555"))
        else:
            body.append(_text(_("We will contact you about your prize."), size="sm", color="#555555"))
        return "draw_won", [_flex(text, _bubble(_("You won!"), body, buttons))]


def consolation(language: str, draw) -> tuple[str, list[dict]]:
    """For participants who did not win (the same message for everyone of one language)."""
    with translation.override(language):
        text = _("The lucky draw %(draw)s has been drawn. You did not win this time; thank you for taking part!") % {
            "draw": draw.display_name(language)}
        return "draw_consolation", [
            _flex(text, _bubble(draw.display_name(language), [_text(text)],
                                [_button(_("See the results"), uri=_draw_url(draw), primary=False)])),
        ]

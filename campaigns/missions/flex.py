"""LINE message for a completed mission, in the member's language (Flex JSON)."""

from django.utils import translation
from django.utils.translation import gettext as _

from messaging.flex import _bubble, _button, _flex, _row, _text, liff_url


def mission_completed(progress) -> tuple[str, list[dict]]:
    member, mission = progress.member, progress.mission
    with translation.override(member.language):
        name = mission.display_name(member.language)
        text = _("Mission complete: %(mission)s!") % {"mission": name}
        body = [_text(text, weight="bold")]
        if progress.points_entry_id:
            body.append(_row(_("Points"), _("+%(points)s") % {"points": f"{progress.points_entry.amount:,}"}))
        if progress.coupon_id:
            reward = progress.coupon.reward
            body.append(_row(_("Coupon"), reward.name_en if member.language == "en" and reward.name_en
                             else reward.name))
        buttons = [_button(_("See my missions"), uri=liff_url(member.brand, "missions"))]
        return "mission_completed", [_flex(text, _bubble(_("Mission complete"), body, buttons))]

"""The member portal's top spender pages (LIFF): the races a member can see and one leaderboard.

Thin: the portal's ``member_page`` finds the session's member (never an id from the
browser); the selectors compute the top N (masked names) and the member's own rank in one
query each.
"""

from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _

from liff_frontend.portal import _context, member_page
from members.models import Brand, Member

from . import selectors
from .flex import amount_text
from .models import Race


def position_text(race: Race, position: selectors.Position | None) -> str:
    """"You are #K, X THB behind #N" (the next rank up inside the top N), "You lead", or how to join."""
    closed = race.status == Race.Status.CLOSED
    if position is None:
        return _("You have no standing in this race.") if closed else _(
            "You are not on the board yet: every purchase in the period counts.")
    if position.rank == 1:
        return _("You finished #1!") if closed else _("You are #1: you lead the race!")
    values = {"rank": f"{position.rank:,}", "target": position.target_rank,
              "gap": amount_text(position.gap, race.metric) if position.gap is not None else ""}
    if closed:
        return _("You finished #%(rank)s.") % values
    if position.gap is None:
        return _("You are #%(rank)s.") % values
    if position.gap == 0:
        return _("You are #%(rank)s, level with #%(target)s, who got there first.") % values
    return _("You are #%(rank)s, %(gap)s behind #%(target)s.") % values


@member_page("races")
def races_home(request, brand: Brand, member: Member):
    races = selectors.races_for_member(member=member)
    rows = [{"race": race, "name": race.display_name(member.language),
             "position": position_text(race, selectors.member_position(race=race, member=member))}
            for race in races]
    return render(request, "leaderboards/home.html", _context(request, brand, member, "races", rows=rows))


@member_page("races")
def race_page(request, brand: Brand, member: Member, race_id: int):
    race = selectors.race_for_member(member=member, race_id=race_id)
    if race is None:
        raise Http404
    position = selectors.member_position(race=race, member=member)
    top = [{"row": row, "amount": amount_text(row.value, race.metric)}
           for row in selectors.leaderboard_top(race=race, member=member)]
    prizes = list(race.prizes.select_related("reward"))
    context = _context(request, brand, member, "races", race=race, name=race.display_name(member.language),
                       description=race.display_description(member.language), top=top, position=position,
                       position_text=position_text(race, position),
                       your_amount=amount_text(position.value, race.metric) if position else "",
                       prizes=[{"prize": prize, "reward": (prize.reward.name_en if member.language == "en"
                                                            and prize.reward and prize.reward.name_en
                                                            else prize.reward.name if prize.reward else "")}
                               for prize in prizes])
    return render(request, "leaderboards/race.html", context)

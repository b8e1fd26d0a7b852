"""The member portal's mission pages (LIFF): missions with progress, a mission, reviews, invite a friend.

Thin: the portal's ``member_page`` finds the session's member (never an id from the
browser); selectors read, services write. Every POST redirects.
"""

from datetime import datetime

from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from config.domain import DomainError
from liff_frontend.portal import _context, member_page
from members.models import Brand, Member

from . import selectors
from .reviews import review_submit


def time_left(ends_at: datetime, now: datetime) -> str:
    seconds = (ends_at - now).total_seconds()
    if seconds <= 0:
        return _("Ended")
    days = int(seconds // 86400)
    if days >= 2:
        return _("%(count)s days left") % {"count": days}
    if days == 1:
        return _("1 day left")
    hours = int(seconds // 3600)
    if hours >= 2:
        return _("%(count)s hours left") % {"count": hours}
    return _("1 hour left") if hours == 1 else _("Less than an hour left")


def _with_time_left(cards, now):
    for card in cards:
        card.time_left = time_left(card.ends_at, now)
    return cards


@member_page("missions")
def mission_list(request, brand: Brand, member: Member):
    now = timezone.now()
    cards = _with_time_left(selectors.member_missions(member=member, now=now), now)
    return render(request, "missions/list.html", _context(request, brand, member, "missions", cards=cards))


@member_page("missions")
def mission_detail(request, brand: Brand, member: Member, mission_id: int):
    now = timezone.now()
    card = selectors.member_mission(member=member, mission_id=mission_id, now=now)
    if card is None:
        raise Http404
    _with_time_left([card], now)
    return render(request, "missions/detail.html", _context(request, brand, member, "missions", card=card))


@require_http_methods(["GET", "POST"])
@member_page("missions")
def review_products(request, brand: Brand, member: Member):
    errors, values = {}, {}
    if request.method == "POST":
        values = {"sku": request.POST.get("sku", ""), "rating": request.POST.get("rating", ""),
                  "text": request.POST.get("text", "")}
        rating = int(values["rating"]) if values["rating"].isdigit() else 0
        try:
            review_submit(member=member, sku=values["sku"], rating=rating, text=values["text"])
        except DomainError as error:
            errors = {"sku": values["sku"], "message": str(error.message)}
        else:
            return redirect(f"{reverse('liff:missions:reviews', args=[brand.slug])}?done=1")
    products = selectors.reviewable_products(member=member)
    context = _context(request, brand, member, "missions", products=products, errors=errors, values=values,
                       stars=range(5, 0, -1), just_done=request.GET.get("done") == "1")
    return render(request, "missions/reviews.html", context, status=400 if errors else 200)


@member_page("missions")
def invite(request, brand: Brand, member: Member):
    link = f"{request.build_absolute_uri(reverse('liff:register', args=[brand.slug]))}?ref={member.code}"
    return render(request, "missions/invite.html", _context(
        request, brand, member, "missions", link=link, referred=selectors.referral_count(member=member)))

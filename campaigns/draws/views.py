"""The member portal's lucky-draw pages (LIFF): the list of draws and a draw's page.

Thin: the portal's ``member_page`` finds the session's member (never an id from the
browser); ``draw_tickets_buy`` decides. A purchase posts a request id minted with the
form, so a double tap or a resent form buys once; every successful POST redirects.
"""

import uuid

from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from config.domain import DomainError
from liff_frontend.portal import _context, member_page
from loyalty import selectors as loyalty_selectors
from members.models import Brand, Member

from . import selectors
from .models import LuckyDraw
from .services import draw_tickets_buy, member_may_enter


@member_page("lucky_draws")
def draw_list(request, brand: Brand, member: Member):
    draws = [(draw, draw.display_name(member.language)) for draw in selectors.draws_for_member(member=member)]
    return render(request, "draws/list.html", _context(request, brand, member, "lucky_draws", draws=draws,
                                                      Status=LuckyDraw.Status, now=timezone.now()))


def _balance(member: Member, draw: LuckyDraw) -> int:
    return next((account.balance for account in loyalty_selectors.member_balances(member=member)
                 if account.currency_id == draw.currency_id), 0)


@require_http_methods(["GET", "POST"])
@member_page("lucky_draws")
def draw_page(request, brand: Brand, member: Member, draw_id: int):
    draw = selectors.draw_for_member(member=member, draw_id=draw_id)
    if draw is None:
        raise Http404
    error = ""
    if request.method == "POST":
        request_id = request.POST.get("request_id", "")
        raw_tickets = request.POST.get("tickets", "")
        try:
            uuid.UUID(request_id)
            tickets = int(raw_tickets)
        except ValueError:
            error = _("Choose how many tickets, then try again.")
        else:
            try:
                result = draw_tickets_buy(draw=draw, member=member, tickets=tickets, request_id=request_id)
            except DomainError as domain_error:
                error = str(domain_error.message)
            else:
                url = reverse("liff:draws:draw", args=[brand.slug, draw.pk])
                return redirect(f"{url}?bought={result.batch.tickets}")
    entry = selectors.entry_of(draw=draw, member=member)
    balance = _balance(member, draw)
    bought = entry.tickets_bought if entry else 0
    limit = draw.max_tickets_per_member
    can_buy_more = None if limit is None else max(0, limit - bought)
    affordable = balance // draw.ticket_cost if draw.ticket_cost else 0
    most = affordable if can_buy_more is None else min(affordable, can_buy_more)
    just_bought = request.GET.get("bought", "")
    context = _context(
        request, brand, member, "lucky_draws", draw=draw, title=draw.display_name(member.language),
        description=draw.display_description(member.language), prizes=list(draw.prizes.all()),
        entry=entry, my_tickets=entry.tickets if entry else 0, balance=balance, can_buy_more=can_buy_more,
        most=min(most, 100), may_enter=member_may_enter(draw=draw, member=member),
        open_now=draw.accepts_entries(), error=error, request_id=uuid.uuid4(),
        just_bought=int(just_bought) if just_bought.isdigit() else 0, Status=LuckyDraw.Status,
        winners=selectors.winners_public(draw=draw, member=member) if draw.status == LuckyDraw.Status.DRAWN else [],
    )
    return render(request, "draws/draw.html", context, status=422 if error else 200)

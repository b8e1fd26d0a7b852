"""Tickets: bought with points (one ledger debit, limits under a lock) or granted by other campaigns."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.draws.errors import DrawNotForMember, DrawNotOpen, TicketLimitReached, TicketsNotForSale
from campaigns.draws.models import DrawEntry, TicketBatch
from campaigns.draws.services import draw_cancel, draw_tickets_buy, draw_tickets_grant
from loyalty.errors import IdempotencyConflict, InsufficientPoints
from loyalty.models import LedgerEntry, MemberTier, PointAccount, Tier, TierProgram
from loyalty.services.verification import ledger_mismatches
from tests import factories
from tests.campaigns.draws.conftest import make_draw


def balance(member) -> int:
    return PointAccount.objects.get(member=member).balance


def test_buying_tickets_is_one_redeem_debit_per_request(draw, rich_member):
    result = draw_tickets_buy(draw=draw, member=rich_member, tickets=3, request_id="req-1")
    assert result.created and result.batch.tickets == 3 and result.batch.points == 300
    again = draw_tickets_buy(draw=draw, member=rich_member, tickets=3, request_id="req-1")
    assert not again.created and again.batch == result.batch

    debit = LedgerEntry.objects.get(amount__lt=0)
    assert (debit.kind, debit.channel, debit.amount) == ("redeem", "campaign", -300)
    assert debit.idempotency_key == f"draw:{draw.pk}:buy:{rich_member.pk}:req-1"
    entry = DrawEntry.objects.get(draw=draw, member=rich_member)
    assert (entry.tickets, entry.tickets_bought, entry.points_spent) == (3, 3, 300)
    assert balance(rich_member) == 700
    assert ledger_mismatches() == []


def test_a_reused_request_id_for_other_tickets_is_a_conflict(draw, rich_member):
    draw_tickets_buy(draw=draw, member=rich_member, tickets=1, request_id="req-1")
    with pytest.raises(IdempotencyConflict):
        draw_tickets_buy(draw=draw, member=rich_member, tickets=2, request_id="req-1")
    assert balance(rich_member) == 900


def test_not_enough_points_is_a_clear_error_and_writes_nothing(draw, member):
    factories.give_points(member, 250, key="test:some")
    with pytest.raises(InsufficientPoints) as raised:
        draw_tickets_buy(draw=draw, member=member, tickets=3, request_id="req-1")
    assert raised.value.code == "insufficient_points" and str(raised.value.message) == "Not enough points."
    assert DrawEntry.objects.count() == 0 and TicketBatch.objects.count() == 0
    assert LedgerEntry.objects.count() == 1 and balance(member) == 250
    assert ledger_mismatches() == []


def test_the_per_member_limit_counts_bought_tickets_only(draw, rich_member):
    draw_tickets_buy(draw=draw, member=rich_member, tickets=3, request_id="req-1")
    with pytest.raises(TicketLimitReached) as raised:
        draw_tickets_buy(draw=draw, member=rich_member, tickets=3, request_id="req-2")
    assert str(raised.value.message) == "You can buy at most 5 tickets for this lucky draw; you have 3."
    draw_tickets_grant(draw=draw, member=rich_member, tickets=4, key="mission:1:2:1")
    draw_tickets_buy(draw=draw, member=rich_member, tickets=2, request_id="req-3")
    entry = DrawEntry.objects.get(draw=draw, member=rich_member)
    assert (entry.tickets, entry.tickets_bought, entry.points_spent) == (9, 5, 500)
    assert balance(rich_member) == 500


def test_granted_tickets_are_given_once_per_key(draw, member):
    first = draw_tickets_grant(draw=draw, member=member, tickets=2, key="mission:3:41:1")
    second = draw_tickets_grant(draw=draw, member=member, tickets=2, key="mission:3:41:1")
    assert first.created and not second.created and second.batch == first.batch
    assert DrawEntry.objects.get(member=member).tickets == 2
    assert LedgerEntry.objects.count() == 0


def test_tickets_only_while_the_draw_takes_entries(brand, rich_member):
    now = timezone.now()
    closed = make_draw(brand, opens=now - timedelta(days=2), closes=now + timedelta(minutes=1),
                       draw_at=now + timedelta(hours=1))
    draft = make_draw(brand, open_now=False)
    granted_only = make_draw(brand, ticket_cost=0)
    with pytest.raises(DrawNotOpen):
        draw_tickets_buy(draw=draft, member=rich_member, tickets=1, request_id="a")
    with pytest.raises(TicketsNotForSale):
        draw_tickets_buy(draw=granted_only, member=rich_member, tickets=1, request_id="b")
    with pytest.raises(DrawNotOpen):
        draw_tickets_grant(draw=closed, member=rich_member, tickets=1, key="late",
                           now=now + timedelta(minutes=2))
    assert balance(rich_member) == 1000 and TicketBatch.objects.count() == 0


def test_the_audience_is_the_draws_tiers(brand, rich_member):
    TierProgram.objects.create(brand=brand, metric="spend", period="calendar_year")
    silver = Tier.objects.create(brand=brand, code="silver", name="Silver", rank=1)
    gold = Tier.objects.create(brand=brand, code="gold", name="Gold", rank=2, threshold=10000)
    draw = make_draw(brand)
    draw.audience_tiers.set([gold])
    MemberTier.objects.create(member=rich_member, brand=brand, tier=silver,
                              qualified_until=timezone.now() + timedelta(days=300))
    with pytest.raises(DrawNotForMember):
        draw_tickets_buy(draw=draw, member=rich_member, tickets=1, request_id="a")
    MemberTier.objects.filter(member=rich_member).update(tier=gold)
    assert draw_tickets_buy(draw=draw, member=rich_member, tickets=1, request_id="a").created


def test_cancelling_gives_every_point_back(draw, rich_member):
    other = factories.MemberFactory(brand=draw.brand)
    factories.give_points(other, 300, key="test:other")
    draw_tickets_buy(draw=draw, member=rich_member, tickets=2, request_id="a")
    draw_tickets_buy(draw=draw, member=rich_member, tickets=1, request_id="b")
    draw_tickets_buy(draw=draw, member=other, tickets=3, request_id="c")
    draw_cancel(draw=draw)
    draw.refresh_from_db()
    assert draw.status == "cancelled"
    assert balance(rich_member) == 1000 and balance(other) == 300
    refunds = LedgerEntry.objects.filter(kind="reverse").order_by("id")
    assert [entry.amount for entry in refunds] == [200, 100, 300]
    with pytest.raises(DrawNotOpen):
        draw_tickets_buy(draw=draw, member=rich_member, tickets=1, request_id="d")
    assert ledger_mismatches() == []


def _in_threads(count: int, work) -> list:
    barrier, outcomes = threading.Barrier(count), []

    def run(index):
        try:
            barrier.wait()
            outcomes.append(work(index))
        except Exception as error:  # noqa: BLE001 - the outcome is what the test counts
            outcomes.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_concurrent_purchases_cannot_pass_the_limit():
    brand = factories.brand_with_program()
    member = factories.MemberFactory(brand=brand)
    factories.give_points(member, 1000, key="test:rich")
    draw = make_draw(brand, max_tickets=5)
    outcomes = _in_threads(6, lambda index: draw_tickets_buy(draw=draw, member=member, tickets=2,
                                                              request_id=f"req-{index}"))
    assert sum(1 for outcome in outcomes if not isinstance(outcome, Exception)) == 2
    assert sum(1 for outcome in outcomes if isinstance(outcome, TicketLimitReached)) == 4
    entry = DrawEntry.objects.get(draw=draw, member=member)
    assert (entry.tickets, entry.tickets_bought, entry.points_spent) == (4, 4, 400)
    assert PointAccount.objects.get(member=member).balance == 600
    assert LedgerEntry.objects.filter(kind="redeem").count() == 2
    assert ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_of_one_purchase_debit_once():
    brand = factories.brand_with_program()
    member = factories.MemberFactory(brand=brand)
    factories.give_points(member, 1000, key="test:rich")
    draw = make_draw(brand)
    outcomes = _in_threads(5, lambda index: draw_tickets_buy(draw=draw, member=member, tickets=2, request_id="same"))
    assert all(not isinstance(outcome, Exception) for outcome in outcomes), outcomes
    assert sum(outcome.created for outcome in outcomes) == 1
    assert TicketBatch.objects.count() == 1 and DrawEntry.objects.get().tickets == 2
    assert PointAccount.objects.get(member=member).balance == 800
    assert ledger_mismatches() == []

"""The ledger under a small concurrent load through the real HTTP stack (pytest-django's
live server, one thread per request, each with its own PostgreSQL connection): the same
code as ``bench/ledger_load.py``, bounded to about 300 requests from 8 clients.

Proves after the load: ``verify_ledger`` clean, no negative balance, no idempotency key
twice, every member's balance equal to what the clients were told (seed + earned -
redeemed - reversed), nothing recorded that no client was told about, the reward never
oversold, and 8 clients sending the same order / redemption / coupon at the same instant
got one purchase, one redemption and one coupon use.
"""

import time

from django.core.management import call_command

from bench.ledger_load import Plan, prepare, run_load, summary, verify
from loyalty.models import LedgerEntry, Purchase, Redemption

PLAN = Plan(clients=8, max_requests=300, seconds=20.0, races=2, seed=7)


def test_mixed_concurrent_load_keeps_the_ledger_and_the_clients_in_agreement(live_server, transactional_db):
    setup = prepare(members=5, seed_points=120, reward_cost=30, reward_stock=40, run="ci")
    started = time.monotonic()
    tally, elapsed = run_load(live_server.url, setup, PLAN)
    wall = time.monotonic() - started
    report = summary(tally, elapsed)
    assert wall < 60, report  # the plan stops at 20 s of mixed load; races and setup come on top
    assert tally.unknown == [], report  # every request got an answer below 500
    # The load really was mixed: each kind of write succeeded many times, and some were refused.
    assert tally.requests >= 300, report
    succeeded = {operation for (operation, status) in tally.statuses if status in (200, 201)}
    assert {"earn", "earn_replay", "redeem", "refund", "coupon_use"} <= succeeded, report
    assert len(tally.purchases) >= 50 and len(tally.redemptions) >= 10 and tally.refunds, report
    assert sum(tally.coupon_uses.values()) >= 3, report

    assert verify(setup, tally) == [], report
    call_command("verify_ledger")  # the operator's command agrees (raises CommandError on a mismatch)

    # The races: the same order, redemption and coupon from 8 clients at the same instant happened once.
    for number in range(PLAN.races):
        earns = tally.races[f"earn-{number}"]
        assert len(earns) == PLAN.clients
        assert sorted(status for status, _id in earns) == [200] * (PLAN.clients - 1) + [201]
        assert len({purchase_id for _status, purchase_id in earns}) == 1
        order_id = f"ci-race-{number}"
        assert Purchase.objects.filter(brand_id=setup.brand_id, order_id=order_id).count() == 1
        assert LedgerEntry.objects.filter(brand_id=setup.brand_id, purchase__order_id=order_id).count() == 1

        redeems = tally.races[f"redeem-{number}"]
        assert sorted(status for status, _id in redeems) == [200] * (PLAN.clients - 1) + [201]
        assert Redemption.objects.filter(brand_id=setup.brand_id, request_id=f"ci-race-r{number}").count() == 1

        uses = sorted(status for status, _code in tally.races[f"coupon-{number}"])
        assert uses == [200] + [409] * (PLAN.clients - 1)

    # The checker is not vacuous: a purchase the clients never heard of, or a balance off by one, is caught.
    purchase_id, told = tally.purchases.popitem()
    assert any(str(purchase_id) in violation for violation in verify(setup, tally))
    tally.purchases[purchase_id] = (told[0], told[1] + 1, told[2])
    assert any(f"member {told[0]}: balance" in violation for violation in verify(setup, tally))

"""Exactly-once completion when several purchases of one member arrive at the same moment."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from campaigns.missions.models import MissionProgress, Objective
from loyalty.models import Coupon, LedgerEntry
from loyalty.services.verification import ledger_mismatches
from messaging.models import OutboundMessage
from tests import factories

from .conftest import buy, make_mission

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 6


def buy_together(member, count: int, total: str) -> list[BaseException]:
    """``count`` purchases of ``member``, each in its own thread and connection, released at once."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            barrier.wait()
            buy(member, Decimal(total), order_id=f"RACE-{index}")
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_purchases_complete_a_once_mission_exactly_once(brand):
    member = factories.MemberFactory(brand=brand)
    reward = factories.RewardFactory(brand=brand, stock=10)
    mission = make_mission(brand, [(Objective.Kind.SPEND, 300)], points=50, reward_coupon=reward)

    assert buy_together(member, THREADS, "200") == []

    key = f"mission:{mission.pk}:{member.pk}:1"
    attempts = MissionProgress.objects.filter(mission=mission)
    assert [(progress.cycle, progress.is_completed) for progress in attempts] == [(1, True)]
    assert list(LedgerEntry.objects.filter(idempotency_key__startswith=f"mission:{mission.pk}:")
                .values_list("idempotency_key", "amount")) == [(key, 50)]
    assert list(Coupon.objects.filter(member=member).values_list("issue_key", flat=True)) == [key]
    assert reward.__class__.objects.get(pk=reward.pk).stock == 9
    assert OutboundMessage.objects.filter(template="mission_completed").count() == 1
    assert ledger_mismatches() == []


def test_concurrent_purchases_complete_a_repeatable_mission_up_to_its_limit(brand):
    member = factories.MemberFactory(brand=brand)
    mission = make_mission(brand, [(Objective.Kind.PURCHASES, 1)], points=20, repeatable=True, max_completions=3)

    assert buy_together(member, THREADS, "100") == []

    completed = MissionProgress.objects.filter(mission=mission, completed_at__isnull=False)
    assert sorted(completed.values_list("cycle", flat=True)) == [1, 2, 3]
    assert sorted(LedgerEntry.objects.filter(idempotency_key__startswith=f"mission:{mission.pk}:")
                  .values_list("idempotency_key", flat=True)) == [
        f"mission:{mission.pk}:{member.pk}:{cycle}" for cycle in (1, 2, 3)]
    assert ledger_mismatches() == []

"""The draw: committed seed, one run, winners re-derivable from the exported CSV, prizes once."""

import csv
import hashlib
import io
import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.draws import verify
from campaigns.draws.algorithm import draw_winners
from campaigns.draws.errors import DrawStateConflict
from campaigns.draws.models import DrawWinner, LuckyDraw
from campaigns.draws.selectors import entries_csv, results_csv, winners_public
from campaigns.draws.services import draw_open, draw_run, draw_tickets_buy, draw_tickets_grant
from campaigns.draws.tasks import run_due_draws
from loyalty.models import Coupon, LedgerEntry, PointAccount
from loyalty.services.verification import ledger_mismatches
from messaging.models import OutboundMessage
from tests import factories
from tests.campaigns.draws.conftest import make_draw

REPO = Path(__file__).resolve().parents[3]


def enter(draw, tickets_by_member: dict):
    for member, tickets in tickets_by_member.items():
        draw_tickets_grant(draw=draw, member=member, tickets=tickets, key=f"test:{member.pk}")


def members(brand, count: int, **fields) -> list:
    return [factories.MemberFactory(brand=brand, **fields) for _ in range(count)]


def test_the_hash_is_published_when_the_draw_opens_and_the_seed_only_after_the_draw(brand):
    draw = make_draw(brand, open_now=False)
    assert (draw.status, draw.seed_hash, draw.revealed_seed) == ("draft", "", "")
    draw_open(draw=draw)
    assert draw.status == "open" and len(draw.seed_hash) == 64 and draw.revealed_seed == ""
    with connection.cursor() as cursor:  # the seed is encrypted at rest
        cursor.execute("SELECT seed FROM draws_luckydraw WHERE id = %s", [draw.pk])
        stored = cursor.fetchone()[0]
    assert len(draw.seed) == 64 and draw.seed not in stored
    with pytest.raises(DrawStateConflict):
        draw_open(draw=draw)  # a second opening would commit to another seed

    committed = draw.seed_hash
    enter(draw, dict.fromkeys(members(brand, 3), 1))
    draw_run(draw_id=draw.pk, now=draw.draw_at)
    draw.refresh_from_db()
    assert draw.status == "drawn" and draw.seed_hash == committed
    assert hashlib.sha256(bytes.fromhex(draw.revealed_seed)).hexdigest() == committed


def test_a_draft_cannot_open_once_entries_closed(brand):
    now = timezone.now()
    draw = make_draw(brand, open_now=False, opens=now - timedelta(days=2), closes=now - timedelta(days=1),
                     draw_at=now)
    with pytest.raises(DrawStateConflict, match="already closed"):
        draw_open(draw=draw)


def test_winners_get_their_prizes_once_and_everyone_else_a_consolation(brand):
    reward = factories.RewardFactory(brand=brand, name="Free latte", stock=5)
    draw = make_draw(brand, consolation=True, prizes=[("กาแฟฟรี", "Free latte", 2, reward, None),
                                                      ("แต้ม", "Points", 1, None, 500)])
    players = members(brand, 5, line_reachable=True)
    players[4].language = "en"
    players[4].save()
    enter(draw, dict(zip(players, [1, 2, 3, 4, 5], strict=True)))

    winners = draw_run(draw_id=draw.pk, now=draw.draw_at)
    assert [winner.slot for winner in winners] == [1, 2, 3]
    stored = list(DrawWinner.objects.filter(draw=draw).order_by("slot"))
    assert all(winner.awarded_at is not None and winner.award_error == "" for winner in stored)
    assert [winner.prize.name_en for winner in stored] == ["Free latte", "Free latte", "Points"]
    assert len({winner.member_id for winner in stored}) == 3

    coupons = Coupon.objects.order_by("issue_key")
    assert [coupon.issue_key for coupon in coupons] == [f"draw:{draw.pk}:1", f"draw:{draw.pk}:2"]
    assert [coupon.member_id for coupon in coupons] == [stored[0].member_id, stored[1].member_id]
    reward.refresh_from_db()
    assert reward.stock == 3
    prize_points = LedgerEntry.objects.get(idempotency_key=f"draw:{draw.pk}:3")
    assert (prize_points.kind, prize_points.channel, prize_points.amount) == ("earn", "campaign", 500)
    assert PointAccount.objects.get(member_id=stored[2].member_id).balance == 500

    won = OutboundMessage.objects.filter(template="draw_won")
    assert sorted(won.values_list("dedupe_key", flat=True)) == [f"draw:{draw.pk}:{slot}:won" for slot in (1, 2, 3)]
    consolation = OutboundMessage.objects.filter(template="draw_consolation")
    recipients = sorted(user for message in consolation for user in message.recipients)
    losers = [player for player in players if player.pk not in {winner.member_id for winner in stored}]
    assert recipients == sorted(player.line_user_id for player in losers)

    assert draw_run(draw_id=draw.pk, now=draw.draw_at + timedelta(minutes=5)) is None
    run_due_draws.delay()
    assert DrawWinner.objects.count() == 3 and Coupon.objects.count() == 2
    assert OutboundMessage.objects.filter(template="draw_won").count() == 3
    assert OutboundMessage.objects.filter(template="draw_consolation").count() == consolation.count()
    assert ledger_mismatches() == []


def test_more_prizes_than_members_leaves_the_extra_prizes_unwon(brand):
    draw = make_draw(brand, prizes=[("รางวัล", "Prize", 10, None, 50)])
    players = members(brand, 3)
    enter(draw, dict.fromkeys(players, 5))
    winners = draw_run(draw_id=draw.pk, now=draw.draw_at)
    assert len(winners) == 3
    assert sorted(winner.member_id for winner in winners) == sorted(player.pk for player in players)


def test_rerunning_from_the_exported_csv_and_revealed_seed_reproduces_the_winners(brand, tmp_path):
    draw = make_draw(brand, prizes=[("ใหญ่", "Grand", 1, None, 1000), ("รอง", "Second", 3, None, 100)])
    players = members(brand, 12)
    enter(draw, {player: index % 4 + 1 for index, player in enumerate(players)})
    for player in players[:2]:
        factories.give_points(player, 300, key=f"test:{player.pk}:points")
        draw_tickets_buy(draw=draw, member=player, tickets=3, request_id=f"buy-{player.pk}")
    winners = draw_run(draw_id=draw.pk, now=draw.draw_at)
    draw.refresh_from_db()

    entries_file, results_file = tmp_path / "entries.csv", tmp_path / "results.csv"
    entries_file.write_text(entries_csv(draw=draw), encoding="utf-8")
    results_file.write_text(results_csv(draw=draw), encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(entries_csv(draw=draw))))
    assert [int(row["member_id"]) for row in rows] == sorted(player.pk for player in players)
    assert [(row["tickets"], row["tickets_bought"], row["points_spent"]) for row in rows[:3]] == [
        ("4", "3", "300"), ("5", "3", "300"), ("3", "0", "0")]

    entries = verify.read_entries(str(entries_file))
    expected = [winner.member_id for winner in sorted(winners, key=lambda winner: winner.slot)]
    assert draw_winners(bytes.fromhex(draw.revealed_seed), entries, 4) == expected
    assert verify.read_results(str(results_file)) == dict(enumerate(expected, start=1))

    # The standalone verifier, without Django: python -m campaigns.draws.verify entries.csv <seed>
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO")}
    run = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "campaigns.draws.verify", str(entries_file), draw.revealed_seed,
         "--results", str(results_file)], cwd=REPO, env=environment, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"seed sha256: {draw.seed_hash}" in run.stdout
    assert f"slot 1: member {expected[0]}" in run.stdout
    assert "OK: the results match the re-run" in run.stdout

    tampered = tmp_path / "tampered.csv"
    tampered.write_text(results_file.read_text().replace(f"1,{expected[0]},", f"1,{expected[1]},", 1))
    assert verify.main([str(entries_file), draw.revealed_seed, "--results", str(tampered)]) == 1


def test_the_beat_task_closes_entries_and_draws_due_draws(brand, time_machine):
    now = timezone.now()
    draw = make_draw(brand, opens=now - timedelta(hours=1), closes=now + timedelta(minutes=10),
                     draw_at=now + timedelta(minutes=20))
    enter(draw, dict.fromkeys(members(brand, 2), 1))
    time_machine.move_to(now + timedelta(minutes=11), tick=False)
    run_due_draws.delay()
    draw.refresh_from_db()
    assert draw.status == "closed" and DrawWinner.objects.count() == 0
    time_machine.move_to(now + timedelta(minutes=21), tick=False)
    run_due_draws.delay()
    draw.refresh_from_db()
    assert draw.status == "drawn" and DrawWinner.objects.count() == 1


def test_winners_names_are_masked_like_the_leaderboards(brand):
    draw = make_draw(brand, prizes=[("รางวัล", "Prize", 2, None, 50)])
    somchai = factories.MemberFactory(brand=brand, first_name="Somchai", last_name="Jaidee")
    nok = factories.MemberFactory(brand=brand, first_name="", last_name="", display_name="นกน้อย")
    enter(draw, {somchai: 1, nok: 1})
    draw_run(draw_id=draw.pk, now=draw.draw_at)
    shown = {winner.masked_name for winner in winners_public(draw=draw)}
    assert shown == {"Som***", "นกน้***"}  # members.display.mask_name: no last-name initial
    rows = list(csv.reader(io.StringIO(results_csv(draw=draw))))
    assert {row[3] for row in rows[1:]} == shown and "Jaidee" not in results_csv(draw=draw)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_draw_once():
    brand = factories.brand_with_program()
    draw = make_draw(brand, prizes=[("รางวัล", "Prize", 2, None, 100)])
    enter(draw, dict.fromkeys(members(brand, 6), 2))
    due = draw.draw_at
    barrier, outcomes = threading.Barrier(2), []

    def run():
        try:
            barrier.wait()
            outcomes.append(draw_run(draw_id=draw.pk, now=due))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcome is None for outcome in outcomes) == [False, True]
    assert DrawWinner.objects.count() == 2
    assert LedgerEntry.objects.filter(idempotency_key__startswith=f"draw:{draw.pk}:").count() == 2
    assert LuckyDraw.objects.get().status == "drawn"
    assert ledger_mismatches() == []

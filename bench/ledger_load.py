"""The ledger under load: earns, redemptions, refunds and coupon uses from many concurrent
clients through the real HTTP API, then proof that nothing was lost, doubled or invented.

Against a running stack (``scripts/prod_local.sh start``, or any server on loopback that
uses the same database)::

    set -a; . var/prod-local/env; set +a
    .venv/bin/python -m bench.ledger_load --base-url http://127.0.0.1:8100 --seconds 60 --clients 16

It needs ``DATABASE_URL`` (the server's database): it creates a fresh brand for the run
(``ledger-load-<random>``: a currency, the rule 25 THB = 1 point, a branch, members with a
few seed points, a reward with limited stock, an API key), runs the load, then checks:

1. ``verify_ledger``'s invariants (balance == sum of entries, running balances, lots);
2. no negative balance, no idempotency key used twice;
3. what the clients were told equals what the database holds: every 2xx purchase,
   redemption and refund exists with the points the client was told, no purchase, refund
   or redemption exists that no client was told about (only when every request got an
   answer), and each member's balance == seed + earned - redeemed - reversed as told;
4. no half-written earn: every purchase's EARN entries add up to its ``points_earned``, and
   its REVERSE entries to what its refunds reversed;
5. the reward's stock never oversold; a coupon used at most once;
6. the races: N clients sending the same order, the same redemption request and the same
   coupon at the same instant got one purchase, one redemption and one use.

It prints a summary and exits 1 on any violation. The suite runs a small version of the
same code against pytest-django's live server (``tests/reliability/test_ledger_under_load.py``).
Every request has a timeout and the load has a deadline: it stops by itself.
"""

import argparse
import http.client
import json
import os
import random
import secrets
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlsplit

REQUEST_TIMEOUT = 15.0


# --- setup (in the server's database, through the ORM) -----------------------------------------


@dataclass
class Setup:
    brand_id: int
    api_key: str
    member_codes: list[str]
    seed_points: int
    reward_id: int
    reward_stock: int
    reward_cost: int
    run: str


def prepare(*, members: int = 6, seed_points: int = 120, reward_cost: int = 30, reward_stock: int = 40,
            run: str | None = None) -> Setup:
    """A fresh brand for this run, so that every row checked afterwards belongs to the run."""
    from loyalty.models import EarnRule, PointCurrency, Reward
    from loyalty.services.ledger import Channel, Kind, Source, account_get_or_create, points_post
    from members.models import Branch, Brand, Member
    from members.services import api_key_create

    run = run or secrets.token_hex(4)
    brand = Brand.objects.create(slug=f"ledger-load-{run}", name=f"Ledger load {run}")
    currency = PointCurrency.objects.create(brand=brand, code="points", name="Points", is_default=True,
                                            expiry_policy="never", expiry_period=0)
    EarnRule.objects.create(brand=brand, currency=currency, is_active=True, spend_amount=Decimal("25"), points=1)
    Branch.objects.create(brand=brand, code="MAIN", name="Main")
    codes = []
    for number in range(members):
        member = Member.objects.create(brand=brand, first_name="Load", last_name=str(number),
                                       phone=f"+66890{number:06d}", status=Member.Status.ACTIVE)
        if seed_points:
            points_post(account=account_get_or_create(member=member, currency=currency), amount=seed_points,
                        kind=Kind.ADJUST, idempotency_key=f"seed:{member.pk}",
                        source=Source(channel=Channel.STAFF, reason="ledger load seed"))
        codes.append(member.code)
    reward = Reward.objects.create(brand=brand, currency=currency, name="Load reward", points_cost=reward_cost,
                                   stock=reward_stock)
    _key, raw_key = api_key_create(brand=brand, name="ledger load")
    return Setup(brand_id=brand.pk, api_key=raw_key, member_codes=codes, seed_points=seed_points,
                 reward_id=reward.pk, reward_stock=reward_stock, reward_cost=reward_cost, run=run)


# --- the clients ---------------------------------------------------------------------------------


class Api:
    """One keep-alive connection; a transport error or a 5xx is an unknown outcome (``None``)."""

    def __init__(self, base_url: str, api_key: str):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.headers = {"Authorization": f"Api-Key {api_key}", "Content-Type": "application/json",
                        "Accept-Language": "en"}
        self.connection = None

    def post(self, path: str, body: dict) -> tuple[int | None, dict | None, str]:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT)
        try:
            self.connection.request("POST", path, body=json.dumps(body), headers=self.headers)
            response = self.connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return None, None, f"{type(error).__name__}: {error}"
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        return response.status, data, raw[:200].decode("utf-8", "replace")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


@dataclass
class Tally:
    """What the clients were told, merged from every client thread under ``lock``."""

    purchases: dict = field(default_factory=dict)      # purchase_id -> (member, points_earned, order_id)
    refunds: dict = field(default_factory=dict)        # (purchase_id, refund_id) -> points_reversed
    redemptions: dict = field(default_factory=dict)    # redemption_id -> (member, points, coupon_code)
    coupon_uses: Counter = field(default_factory=Counter)  # code -> number of 200 answers
    statuses: Counter = field(default_factory=Counter)     # (operation, status) -> count
    contradictions: list = field(default_factory=list)  # a replay told something else than the first answer
    unknown: list = field(default_factory=list)         # requests whose outcome no client learnt
    retries: int = 0
    latencies: dict = field(default_factory=lambda: defaultdict(list))
    races: dict = field(default_factory=lambda: defaultdict(list))  # race name -> answers
    coupons: list = field(default_factory=list)         # coupon codes issued, for the coupon users
    ambiguous_coupons: set = field(default_factory=set)  # 409 after a retry: maybe our own first attempt
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


@dataclass
class Plan:
    clients: int = 8
    max_requests: int = 300
    seconds: float = 20.0
    races: int = 2
    retries: int = 0            # retries of a request whose outcome is unknown (same idempotency key)
    retry_pause: float = 0.5
    seed: int = 12


class Client:
    """One POS client: its own connection, random generator and purchases."""

    def __init__(self, number: int, base_url: str, setup: Setup, plan: Plan, tally: Tally, budget, deadline):
        self.number, self.setup, self.plan, self.tally = number, setup, plan, tally
        self.api = Api(base_url, setup.api_key)
        self.random = random.Random(plan.seed * 1000 + number)
        self.budget, self.deadline = budget, deadline
        self.sent_purchases: list[dict] = []
        self.sent_redemptions: list[dict] = []
        self.counter = 0

    # Each operation returns after recording what the client was told.

    def call(self, operation: str, path: str, body: dict) -> tuple[int | None, dict | None]:
        """POST with retries while the outcome is unknown (every body carries its idempotency key)."""
        for attempt in range(self.plan.retries + 1):
            self.attempts = attempt + 1
            started = time.perf_counter()
            status, data, text = self.api.post(path, body)
            elapsed = time.perf_counter() - started
            with self.tally.lock:
                self.tally.statuses[(operation, status or "error")] += 1
                self.tally.latencies[operation].append(elapsed)
                if attempt:
                    self.tally.retries += 1
            if status is not None and status < 500:
                return status, data
            if attempt < self.plan.retries and time.monotonic() < self.deadline + 30:
                time.sleep(self.plan.retry_pause)
                continue
            with self.tally.lock:
                self.tally.unknown.append((operation, path, body.get("order_id") or body.get("request_id")
                                           or body.get("refund_id") or "", status, text))
            return None, None
        return None, None

    def next_id(self, kind: str) -> str:
        self.counter += 1
        return f"{self.setup.run}-{self.number}-{kind}{self.counter}"

    def purchase_body(self, order_id: str, member: str | None = None, total: str | None = None) -> dict:
        total = total or f"{self.random.randint(25, 2000)}.{self.random.randint(0, 99):02d}"
        return {"order_id": order_id, "member": {"code": member or self.random.choice(self.setup.member_codes)},
                "total": total, "lines": [{"sku": "LOAD", "quantity": 1, "amount": total}], "branch": "MAIN"}

    def record_purchase(self, status, data) -> None:
        if status not in (200, 201):
            return
        with self.tally.lock:
            told = (data["member_code"], data["points_earned"], data["order_id"])
            first = self.tally.purchases.setdefault(data["purchase_id"], told)
            if first != told:
                self.tally.contradictions.append(("purchase", data["purchase_id"], first, told))

    def earn(self, body: dict | None = None) -> None:
        body = body or self.purchase_body(self.next_id("o"))
        status, data = self.call("earn", "/api/v1/purchases/", body)
        self.record_purchase(status, data)
        if status == 201:
            self.sent_purchases.append({**body, "purchase_id": data["purchase_id"]})

    def earn_replay(self) -> None:
        if not self.sent_purchases:
            return self.earn()
        sent = dict(self.random.choice(self.sent_purchases))
        purchase_id = sent.pop("purchase_id")
        status, data = self.call("earn_replay", "/api/v1/purchases/", sent)
        self.record_purchase(status, data)
        if status == 201 or (status == 200 and data["purchase_id"] != purchase_id):
            with self.tally.lock:
                self.tally.contradictions.append(("earn_replay", sent["order_id"], status, data))

    def record_redemption(self, status, data) -> None:
        if status not in (200, 201):
            return
        with self.tally.lock:
            told = (data["coupon"]["member_code"], data["points"], data["coupon_code"])
            first = self.tally.redemptions.setdefault(data["redemption_id"], told)
            if first != told:
                self.tally.contradictions.append(("redemption", data["redemption_id"], first, told))
            if status == 201:
                self.tally.coupons.append(data["coupon_code"])

    def redeem(self, body: dict | None = None) -> None:
        body = body or {"member": {"code": self.random.choice(self.setup.member_codes)},
                        "reward": self.setup.reward_id, "request_id": self.next_id("r")}
        status, data = self.call("redeem", "/api/v1/redemptions/", body)
        self.record_redemption(status, data)
        if status == 201:
            self.sent_redemptions.append(body)

    def redeem_replay(self) -> None:
        if not self.sent_redemptions:
            return self.redeem()
        status, data = self.call("redeem_replay", "/api/v1/redemptions/", self.random.choice(self.sent_redemptions))
        self.record_redemption(status, data)
        if status == 201:
            with self.tally.lock:
                self.tally.contradictions.append(("redeem_replay", status, data))

    def refund(self) -> None:
        if not self.sent_purchases:
            return self.earn()
        purchase = self.random.choice(self.sent_purchases)
        body = {"refund_id": self.next_id("f")}
        if self.random.random() < 0.6:  # partial: up to a third of the total
            body["amount"] = str(max(Decimal("0.01"), (Decimal(purchase["total"]) / 3).quantize(Decimal("0.01"))))
        status, data = self.call("refund", f"/api/v1/purchases/{purchase['purchase_id']}/refund/", body)
        if status in (200, 201):
            with self.tally.lock:
                key = (purchase["purchase_id"], data["refund_id"])
                first = self.tally.refunds.setdefault(key, data["points_reversed"])
                if first != data["points_reversed"]:
                    self.tally.contradictions.append(("refund", key, first, data["points_reversed"]))

    def use_coupon(self, code: str | None = None) -> None:
        with self.tally.lock:
            pool = list(self.tally.coupons)
        if code is None and not pool:
            return self.redeem()
        code = code or self.random.choice(pool)
        status, data = self.call("coupon_use", f"/api/v1/coupons/{code}/use/", {"reference": self.next_id("u")})
        with self.tally.lock:
            if status == 200:
                self.tally.coupon_uses[code] += 1
            elif status == 409 and self.attempts > 1:
                self.tally.ambiguous_coupons.add(code)

    OPERATIONS = [("earn", 45), ("earn_replay", 8), ("redeem", 20), ("redeem_replay", 4), ("refund", 13),
                  ("use_coupon", 10)]

    def take_budget(self) -> bool:
        with self.tally.lock:
            if self.budget[0] <= 0:
                return False
            self.budget[0] -= 1
            return True

    def run_mixed(self) -> None:
        names = [name for name, _weight in self.OPERATIONS]
        weights = [weight for _name, weight in self.OPERATIONS]
        while time.monotonic() < self.deadline and self.take_budget():
            getattr(self, self.random.choices(names, weights)[0])()


def race(barrier: threading.Barrier, tally: Tally, setup: Setup, number: int, client: Client) -> None:
    """Every client sends the same order, then the same redemption, then uses the same coupon, at once."""
    member = setup.member_codes[number % len(setup.member_codes)]
    order = client.purchase_body(f"{setup.run}-race-{number}", member=member, total="500.00")
    barrier.wait(timeout=60)
    status, data = client.call("race_earn", "/api/v1/purchases/", order)
    client.record_purchase(status, data)
    with tally.lock:
        tally.races[f"earn-{number}"].append((status, data and data.get("purchase_id")))
    redemption = {"member": {"code": member}, "reward": setup.reward_id, "request_id": f"{setup.run}-race-r{number}"}
    barrier.wait(timeout=60)
    status, data = client.call("race_redeem", "/api/v1/redemptions/", redemption)
    client.record_redemption(status, data)
    with tally.lock:
        tally.races[f"redeem-{number}"].append((status, data and data.get("redemption_id")))
    barrier.wait(timeout=60)
    code = data.get("coupon_code") if status in (200, 201) else None
    if code:
        status, _data = client.call("race_coupon", f"/api/v1/coupons/{code}/use/", {"reference": "race"})
        with tally.lock:
            if status == 200:
                tally.coupon_uses[code] += 1
            tally.races[f"coupon-{number}"].append((status, code))


def run_load(base_url: str, setup: Setup, plan: Plan) -> tuple[Tally, float]:
    """The races, then the mixed load until ``max_requests`` or ``seconds``; returns the tally and the wall time."""
    tally = Tally()
    deadline = time.monotonic() + plan.seconds
    budget = [plan.max_requests]
    clients = [Client(number, base_url, setup, plan, tally, budget, deadline) for number in range(plan.clients)]
    barrier = threading.Barrier(plan.clients)
    failures = []

    def work(client: Client) -> None:
        try:
            for number in range(plan.races):
                race(barrier, tally, setup, number, client)
            client.run_mixed()
        except Exception as error:  # reported as a violation, never a hang
            barrier.abort()
            failures.append(f"client {client.number}: {type(error).__name__}: {error}")
        finally:
            client.api.close()

    threads = [threading.Thread(target=work, args=(client,), daemon=True) for client in clients]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=plan.seconds + 60 + REQUEST_TIMEOUT * (plan.retries + 2))
    elapsed = time.perf_counter() - started
    if any(thread.is_alive() for thread in threads):
        failures.append("a client did not stop in time")
    tally.contradictions.extend(failures)
    return tally, elapsed


# --- verification (through the ORM, in the server's database) -----------------------------------


def verify(setup: Setup, tally: Tally) -> list[str]:
    """Every violation found; empty when the ledger and the clients agree."""
    from django.db import connection
    from django.db.models import Count, Q, Sum

    from loyalty.models import Coupon, LedgerEntry, PointAccount, Purchase, PurchaseRefund, Redemption, Reward
    from loyalty.services.verification import ledger_mismatches
    from members.models import Member

    violations = [f"ledger: {mismatch}" for mismatch in ledger_mismatches()]
    violations += [f"client: {item}" for item in tally.contradictions]
    brand = setup.brand_id
    negative = list(PointAccount.objects.filter(member__brand_id=brand, balance__lt=0).values_list("pk", "balance"))
    if negative:
        violations.append(f"negative balances: {negative}")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT idempotency_key, COUNT(*) FROM {LedgerEntry._meta.db_table} "  # noqa: S608
                       "WHERE brand_id = %s GROUP BY idempotency_key HAVING COUNT(*) > 1", [brand])
        duplicated = cursor.fetchall()
    if duplicated:
        violations.append(f"idempotency keys used twice: {duplicated[:10]}")

    # Every purchase is whole: its EARN entries add up to points_earned, its REVERSE entries to its refunds.
    purchases = {row["pk"]: row for row in Purchase.objects.filter(brand_id=brand).annotate(
        earned=Sum("ledger_entries__amount", filter=Q(ledger_entries__kind=LedgerEntry.Kind.EARN)),
        earn_entries=Count("ledger_entries", filter=Q(ledger_entries__kind=LedgerEntry.Kind.EARN)),
    ).values("pk", "member__code", "points_earned", "earned", "earn_entries", "order_id")}
    reversed_by_purchase = dict(LedgerEntry.objects.filter(brand_id=brand, kind=LedgerEntry.Kind.REVERSE)
                                .values_list("purchase_id").annotate(total=Sum("amount")))
    refunds = {(row["purchase_id"], row["refund_id"]): row["points_reversed"]
               for row in PurchaseRefund.objects.filter(purchase__brand_id=brand)
               .values("purchase_id", "refund_id", "points_reversed")}
    refunded_by_purchase = Counter()
    for (purchase_id, _refund_id), points in refunds.items():
        refunded_by_purchase[purchase_id] += points
    for pk, row in purchases.items():
        if (row["earned"] or 0) != row["points_earned"] or row["earn_entries"] > 1:
            violations.append(f"half-written purchase {row['order_id']}: points_earned={row['points_earned']}, "
                              f"earn entries={row['earn_entries']} summing {row['earned']}")
        if -(reversed_by_purchase.get(pk) or 0) != refunded_by_purchase[pk]:
            violations.append(f"purchase {row['order_id']}: refunds reversed {refunded_by_purchase[pk]}, "
                              f"ledger {-(reversed_by_purchase.get(pk) or 0)}")

    # What the clients were told is in the database, with the same points.
    for pk, (member, points, order_id) in tally.purchases.items():
        row = purchases.get(pk)
        if row is None or (row["member__code"], row["points_earned"], row["order_id"]) != (member, points, order_id):
            violations.append(f"told purchase {pk} {order_id} {member} +{points}; database: {row}")
    for key, points in tally.refunds.items():
        if refunds.get(key) != points:
            violations.append(f"told refund {key} -{points}; database: {refunds.get(key)}")
    redemptions = {row["pk"]: row for row in Redemption.objects.filter(brand_id=brand)
                   .values("pk", "member__code", "points", "coupon__code")}
    for pk, (member, points, code) in tally.redemptions.items():
        row = redemptions.get(pk)
        if row is None or (row["member__code"], row["points"], row["coupon__code"]) != (member, points, code):
            violations.append(f"told redemption {pk} {member} -{points} {code}; database: {row}")

    # Nothing happened that no client was told about (only provable when every outcome is known).
    if not tally.unknown:
        for name, database, told in (("purchases", set(purchases), set(tally.purchases)),
                                     ("refunds", set(refunds), set(tally.refunds)),
                                     ("redemptions", set(redemptions), set(tally.redemptions))):
            if database != told:
                violations.append(f"{name} nobody was told about: {sorted(database - told)[:10]}; "
                                  f"told but missing: {sorted(told - database)[:10]}")
        expected = dict.fromkeys(setup.member_codes, setup.seed_points)
        for member, points, _order in tally.purchases.values():
            expected[member] += points
        for member, points, _code in tally.redemptions.values():
            expected[member] -= points
        member_of_purchase = {pk: member for pk, (member, _points, _order) in tally.purchases.items()}
        for (purchase_id, _refund_id), points in tally.refunds.items():
            expected[member_of_purchase[purchase_id]] -= points
        balances = dict(PointAccount.objects.filter(member__brand_id=brand)
                        .values_list("member__code", "balance"))
        for code, balance in expected.items():
            if balances.get(code, 0) != balance:
                violations.append(f"member {code}: balance {balances.get(code, 0)}, clients were told {balance}")

    reward = Reward.objects.get(pk=setup.reward_id)
    redeemed = len(redemptions)
    if reward.stock is None or reward.stock < 0 or setup.reward_stock - reward.stock != redeemed:
        violations.append(f"reward stock {setup.reward_stock} -> {reward.stock} with {redeemed} redemptions")
    used = set(Coupon.objects.filter(brand_id=brand, status=Coupon.Status.USED).values_list("code", flat=True))
    doubled = {code: count for code, count in tally.coupon_uses.items() if count > 1}
    if doubled:
        violations.append(f"coupons used more than once: {doubled}")
    unexplained = used - set(tally.coupon_uses) - tally.ambiguous_coupons
    if not set(tally.coupon_uses) <= used or (not tally.unknown and unexplained):
        violations.append(f"coupon uses told {sorted(tally.coupon_uses)} but used in the database {sorted(used)}")

    for name, answers in tally.races.items():
        ids = {answer for _status, answer in answers if answer is not None}
        ok = [status for status, _answer in answers if status in (200, 201)]
        if name.startswith(("earn", "redeem")) and (len(ids) > 1 or (not tally.unknown and len(ok) != len(answers))):
            violations.append(f"race {name}: answers {answers}")
        if name.startswith("coupon") and len(ok) != 1 and not tally.unknown:
            violations.append(f"race {name}: {len(ok)} clients used the same coupon: {answers}")
    if Member.objects.filter(brand_id=brand).count() != len(setup.member_codes):
        violations.append("members were created by the load")
    return violations


# --- report --------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(fraction * len(ordered) + 0.5)) - 1))] if ordered else 0.0


def summary(tally: Tally, elapsed: float) -> str:
    lines = [f"{tally.requests} requests in {elapsed:.1f} s ({tally.requests / elapsed:.0f}/s), "
             f"{len(tally.unknown)} with unknown outcome, {tally.retries} retries"]
    by_operation = defaultdict(dict)
    for (operation, status), count in sorted(tally.statuses.items(), key=str):
        by_operation[operation][status] = count
    for operation, statuses in by_operation.items():
        latencies = tally.latencies[operation]
        lines.append(f"  {operation:<14} {statuses}  p50 {percentile(latencies, .5) * 1000:.0f} ms  "
                     f"p99 {percentile(latencies, .99) * 1000:.0f} ms")
    lines.append(f"  told: {len(tally.purchases)} purchases (+{sum(p for _m, p, _o in tally.purchases.values())} "
                 f"points), {len(tally.redemptions)} redemptions (-{sum(p for _m, p, _c in tally.redemptions.values())}),"
                 f" {len(tally.refunds)} refunds (-{sum(tally.refunds.values())}), "
                 f"{sum(tally.coupon_uses.values())} coupon uses")
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.ledger_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default=os.environ.get("SITE_URL", "http://127.0.0.1:8100"))
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the mixed load (60)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--max-requests", type=int, default=100_000, help="stop after this many requests")
    parser.add_argument("--members", type=int, default=12, help="members the clients share (12)")
    parser.add_argument("--reward-stock", type=int, default=200, help="stock of the one reward (200)")
    parser.add_argument("--retries", type=int, default=0,
                        help="retry a request with an unknown outcome this many times (same idempotency key)")
    parser.add_argument("--seed", type=int, default=12)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print("DATABASE_URL (the server's PostgreSQL database) is required: set -a; . var/prod-local/env; set +a",
              file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    setup = prepare(members=args.members, reward_stock=args.reward_stock)
    plan = Plan(clients=args.clients, max_requests=args.max_requests, seconds=args.seconds, retries=args.retries,
                seed=args.seed)
    print(f"brand ledger-load-{setup.run}: {args.clients} clients, {args.members} members, {args.seconds:.0f} s "
          f"against {args.base_url}")
    tally, elapsed = run_load(args.base_url, setup, plan)
    print(summary(tally, elapsed))
    violations = verify(setup, tally)
    for violation in violations[:50]:
        print(f"VIOLATION {violation}")
    print("ledger and clients agree" if not violations else f"{len(violations)} violations")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())

-- The POS earn of POST /api/v1/purchases/ as raw SQL: what purchase_record + points_post write,
-- statement for statement, without Python (run by `python -m bench.pos_load --pgbench`, which
-- fills bench_pos_members with a random sample of the brand's members and passes the -D variables:
-- brand, currency, branch, members, spend, rule_points, run).
--
-- (pgbench replaces :name even inside quotes: literal colons are kept away from names.)
-- Per transaction: resolve the member by code (the API's member_find) and the account; the replay
-- check on (brand, channel, order_id); insert the purchase and its line; lock the account row;
-- check the idempotency key under the lock; insert the EARN entry (with an explanation of the same
-- size as the engine's), its lot, move the balance; record points and balance on the purchase;
-- write the purchase's domain events to the outbox (loyalty_parkedevents) as the app does in the same
-- transaction; commit (synchronous_commit on, as the app). Left out: the app's reads of configuration
-- (API key, branch, rules, policy, promotions, tier) and everything after the commit (beat's relay,
-- the Celery worker's subscribers). The app now writes the same rows in fewer statements (the
-- purchase with its line in one, the entry, lot and balance in one) and skips the two key look-ups.
\set k random(1, :members)
\set order random(1, 1000000000000000)
\set total random(50, 3000)
\set points (:total * :rule_points) / :spend
BEGIN;
SELECT m.id AS member_id, a.id AS account_id
  FROM bench_pos_members s
  JOIN members_member m ON m.brand_id = :brand::bigint AND m.code = s.code
  JOIN loyalty_pointaccount a ON a.member_id = m.id AND a.currency_id = :currency::bigint
 WHERE s.n = :k::bigint \gset
SELECT id FROM loyalty_purchase
 WHERE brand_id = :brand::bigint AND channel = 'pos' AND order_id = :run::text || '-' || :client_id::text || '-' || :order::text;
INSERT INTO loyalty_purchase (brand_id, branch_id, member_id, channel, order_id, total, refunded_total, status,
                              points_earned, balance_after, purchased_at, api_key_id, created_at, updated_at)
VALUES (:brand::bigint, :branch::bigint, :member_id::bigint, 'pos', :run::text || '-' || :client_id::text || '-' || :order::text, :total::numeric, 0, 'completed',
        0, NULL, now(), NULL, now(), now())
RETURNING id AS purchase_id \gset
INSERT INTO loyalty_purchaseline (purchase_id, sku, category, quantity, amount)
VALUES (:purchase_id::bigint, 'SKU01', 'coffee', 1, :total::numeric);
SELECT balance FROM loyalty_pointaccount WHERE id = :account_id::bigint FOR UPDATE \gset
SELECT id FROM loyalty_ledgerentry
 WHERE brand_id = :brand::bigint AND idempotency_key = 'purchase:' || :brand::text || ':' || 'pos' || ':' || :run::text || '-' || :client_id::text || '-' || :order::text || ':' || 'points';
INSERT INTO loyalty_ledgerentry (brand_id, account_id, kind, channel, amount, balance_after, idempotency_key,
                                 purchase_id, redemption_id, reverses_id, staff_user_id, reason, reference,
                                 expires_at, details, created_at)
VALUES (:brand::bigint, :account_id::bigint, 'earn', 'pos', :points::bigint, :balance::bigint + :points::bigint,
        'purchase:' || :brand::text || ':' || 'pos' || ':' || :run::text || '-' || :client_id::text || '-' || :order::text || ':' || 'points',
        :purchase_id::bigint, NULL, NULL, NULL, '', :run::text || '-' || :client_id::text || '-' || :order::text,
        now() + interval '1 year',
        '{"base": 10, "text": ["รายการที่ 1 (SKU01, coffee, 250.00 บาท): กติกา “bench-pos-load” → 10 แต้ม", "การปัดเศษ (ปัดลง) ทั้งบิล: 10 → แต้มพื้นฐาน 10 แต้ม", "รวม: พื้นฐาน 10 + ระดับสมาชิก 0 + โปรโมชัน 0 = 10 Points"], "tier": 0, "bonus": 0, "promotions": [], "explanation": [{"sku": "SKU01", "line": 1, "rule": 1, "step": "line", "exact": "10", "amount": "250.00", "points": "10", "category": "coffee", "quantity": 1, "specificity": 0}, {"mode": "down", "step": "rounding", "exact": "10", "scope": "bill", "points": 10}, {"base": 10, "step": "total", "tier": 0, "bonus": 0, "points": 10}]}'::jsonb,
        now())
RETURNING id AS entry_id \gset
INSERT INTO loyalty_pointlot (entry_id, account_id, amount, remaining, expires_at, created_at)
VALUES (:entry_id::bigint, :account_id::bigint, :points::bigint, :points::bigint, now() + interval '1 year', now());
UPDATE loyalty_pointaccount SET balance = balance + :points::bigint, updated_at = now() WHERE id = :account_id::bigint;
UPDATE loyalty_purchase SET points_earned = :points::bigint, balance_after = :balance::bigint + :points::bigint WHERE id = :purchase_id::bigint;
INSERT INTO loyalty_parkedevents (batch, error, created_at)
VALUES (('[["points_posted", {"entry_id": ' || :entry_id::text || ', "account_id": ' || :account_id::text
         || ', "amount": ' || :points::text || ', "kind": "earn"}], ["purchase_recorded", {"purchase_id": '
         || :purchase_id::text || ', "member_id": ' || :member_id::text || '}]]')::jsonb, '', now());
END;

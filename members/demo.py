"""The demo brand: two branches, a currency, an earn rule, rewards, members with history.

``demo_seed()`` is idempotent: every row is found by a natural key and every points
movement goes through the loyalty services with a fixed idempotency key, so a second
run writes nothing new. Secrets are derived from SECRET_KEY (stable per installation,
never in the repository); the database stores only the API key's digest and the
channel secret encrypted.
"""

import hashlib
import hmac
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

from loyalty.models import EarnPolicy, EarnRule, PointCurrency, Promotion, Reward, Tier, TierProgram
from loyalty.services.earning import LineInput, purchase_record, purchase_refund
from loyalty.services.ledger import Channel
from loyalty.services.redemption import reward_redeem
from members.models import ApiKey, Branch, Brand, Member, StaffAssignment
from members.services import api_key_create, member_get_or_create_pending

DEMO_SLUG = "demo"
STAFF_USERNAME = "demo-staff"
CASHIER_USERNAME = "demo-cashier"
MANAGER_GROUP = "Brand managers"
MANAGED_APPS = ("members", "loyalty", "claims", "receipts", "orders", "activity", "messaging", "consent", "missions",
                "draws", "leaderboards", "coupon_campaigns", "segments", "broadcasts", "analytics")
DEMO_MESSAGING_CHANNEL_ID = "2000000000"
DEMO_LOGIN_CHANNEL_ID = "1650000000"


def derived_secret(purpose: str, length: int = 32) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), f"taem-demo:{purpose}".encode(), hashlib.sha256).hexdigest()
    return digest[:length]


def manager_group() -> Group:
    group, _created = Group.objects.get_or_create(name=MANAGER_GROUP)
    group.permissions.set(Permission.objects.filter(content_type__app_label__in=MANAGED_APPS)
                          .exclude(codename__in=["add_brand", "delete_brand", "add_staffassignment",
                                                 "change_staffassignment", "delete_staffassignment"]))
    return group


DEMO_MEMBERS = [
    # (LINE user id, first, last, phone, birth year)
    ("U" + "d" * 31 + "1", "สมชาย", "ใจดี", "+66812345671", 1990),
    ("U" + "d" * 31 + "2", "Nok", "Srisuk", "+66812345672", 1985),
    ("U" + "d" * 31 + "3", "มาลี", "รักแต้ม", "+66812345673", 1998),
]


DEMO_CONSENTS = [  # (kind, required, title th, title en, text th, text en)
    ("terms", True, "ข้อกำหนดการเป็นสมาชิก", "Membership terms",
     "สมาชิกสะสมแต้มจากการซื้อสินค้า 25 บาท = 1 แต้ม แต้มมีอายุ 365 วัน…",
     "Members earn 1 point per 25 THB spent. Points are valid for 365 days…"),
    ("privacy", True, "นโยบายความเป็นส่วนตัว", "Privacy policy",
     "เราเก็บชื่อ เบอร์โทรศัพท์ และประวัติการซื้อเพื่อให้บริการสมาชิก ตาม พ.ร.บ. คุ้มครองข้อมูลส่วนบุคคล…",
     "We keep your name, phone number and purchases to run the membership, under Thailand's PDPA…"),
    ("marketing", False, "รับข่าวสารและโปรโมชัน", "News and promotions",
     "ยินยอมให้ส่งข่าวสาร โปรโมชัน และข้อเสนอพิเศษทาง LINE", "Send me news, promotions and offers on LINE."),
]


def _demo_consents(brand: Brand) -> None:
    from consent.models import ConsentDocument, ConsentVersion
    from consent.services import consent_version_publish

    for kind, required, title_th, title_en, text_th, text_en in DEMO_CONSENTS:
        document, _ = ConsentDocument.objects.get_or_create(brand=brand, kind=kind, defaults={
            "title_th": title_th, "title_en": title_en, "is_required": required})
        version, _ = ConsentVersion.objects.get_or_create(document=document, version=1, defaults={
            "content_th": text_th, "content_en": text_en})
        if version.status != "published":
            consent_version_publish(version=version)


def _demo_member_consents(member: Member) -> None:
    """Demo members accepted the required documents (imported, once)."""
    from consent.selectors import consents_missing
    from consent.services import consent_record

    for version in consents_missing(member=member):
        consent_record(member=member, version=version, granted=True, channel="import")


def _demo_profile_fields(brand: Brand) -> None:
    from members.models import ProfileField

    ProfileField.objects.get_or_create(brand=brand, key="interests", defaults={
        "label_th": "สิ่งที่สนใจ", "label_en": "Interests", "kind": "multi_choice", "order": 1, "choices": [
            {"value": "coffee", "th": "กาแฟ", "en": "Coffee"}, {"value": "tea", "th": "ชา", "en": "Tea"},
            {"value": "bakery", "th": "เบเกอรี่", "en": "Bakery"}]})
    ProfileField.objects.get_or_create(brand=brand, key="preferred_channel", defaults={
        "label_th": "ช่องทางที่สะดวกให้ติดต่อ", "label_en": "Preferred channel", "kind": "choice", "order": 2,
        "choices": [{"value": "line", "th": "LINE", "en": "LINE"}, {"value": "sms", "th": "SMS", "en": "SMS"},
                    {"value": "email", "th": "อีเมล", "en": "E-mail"}]})


DEMO_TIERS = [  # code, Thai, English, rank, spend per calendar year, multiplier, birthday bonus, colour
    ("silver", "ซิลเวอร์", "Silver", 1, "0", "1", 0, "#9aa3ad"),
    ("gold", "โกลด์", "Gold", 2, "5000", "1.5", 100, "#c9a227"),
    ("platinum", "แพลทินัม", "Platinum", 3, "20000", "2", 300, "#5b6b7a"),
]


def _demo_program(brand: Brand, currency: PointCurrency) -> dict:
    """Tiers on yearly spend, an earn policy, a category override and two promotions."""
    EarnPolicy.objects.get_or_create(brand=brand)
    TierProgram.objects.get_or_create(brand=brand, defaults={"metric": TierProgram.Metric.SPEND, "grace_days": 30})
    tiers = {}
    for code, name, name_en, rank, threshold, multiplier, birthday, color in DEMO_TIERS:
        tiers[code], _ = Tier.objects.get_or_create(brand=brand, code=code, defaults={
            "name": name, "name_en": name_en, "rank": rank, "threshold": Decimal(threshold),
            "earn_multiplier": Decimal(multiplier), "birthday_bonus": birthday, "color": color,
            "benefits": f"สะสมแต้ม x{multiplier}" + (f" · วันเกิดรับ {birthday} แต้ม" if birthday else ""),
            "benefits_en": f"Earn x{multiplier} points" + (f" · {birthday} birthday points" if birthday else ""),
        })
    EarnRule.objects.get_or_create(brand=brand, currency=currency, category="bakery", is_active=True,
                                   defaults={"name": "Bakery: 20 THB = 1 point", "spend_amount": Decimal("20"),
                                             "points": 1})
    start = timezone.now().replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    Promotion.objects.get_or_create(brand=brand, name="Happy Monday x2", defaults={
        "currency": currency, "kind": Promotion.Kind.MULTIPLIER, "multiplier": Decimal("2"), "weekdays": "0",
        "starts_at": start, "ends_at": start + timedelta(days=730), "cap_per_bill": 200})
    Promotion.objects.get_or_create(brand=brand, name="+50 points on bills of 500 THB", defaults={
        "currency": currency, "kind": Promotion.Kind.BILL_BONUS, "bonus_points": 50, "minimum_bill": Decimal("500"),
        "starts_at": start, "ends_at": start + timedelta(days=730), "cap_per_member": 150,
        "cap_period": Promotion.CapPeriod.MONTH})
    return tiers


@transaction.atomic
def demo_seed() -> dict:
    brand, _ = Brand.objects.get_or_create(slug=DEMO_SLUG, defaults={"name": "Taem Demo Café · แต้มคาเฟ่"})
    channel_secret = derived_secret("line-channel-secret")
    # The demo brand talks to LINE only when LINE_API_BASE points at a (fake) server: never to real LINE.
    access_token = derived_secret("line-channel-access-token", 64) if settings.LINE_API_BASE else ""
    if brand.line_channel_secret != channel_secret or brand.line_channel_access_token != access_token:
        brand.line_channel_secret = channel_secret
        brand.line_channel_access_token = access_token
        brand.line_channel_id = DEMO_MESSAGING_CHANNEL_ID
        brand.line_login_channel_id = DEMO_LOGIN_CHANNEL_ID
        brand.save()
    branches = [
        Branch.objects.get_or_create(brand=brand, code=code, defaults={"name": name})[0]
        for code, name in (("BKK01", "สยาม · Siam"), ("BKK02", "อารีย์ · Ari"))
    ]
    currency, _ = PointCurrency.objects.get_or_create(
        brand=brand, code="points",
        defaults={"name": "แต้ม · Points", "is_default": True, "expiry_policy": "year_end", "expiry_period": 1, "point_value": Decimal("0.25")},
    )
    EarnRule.objects.get_or_create(
        brand=brand, currency=currency, is_active=True, branch=None, channel="", category="", sku="",
        defaults={"name": "25 THB = 1 point", "spend_amount": Decimal("25"), "points": 1},
    )
    tiers = _demo_program(brand, currency)
    rewards = [
        Reward.objects.get_or_create(brand=brand, name=name, defaults={
            "name_en": name_en, "currency": currency, "points_cost": cost, "stock": stock, "value_thb": value,
        })[0]
        for name, name_en, cost, stock, value in (
            ("เครื่องดื่มฟรี 1 แก้ว", "One free drink", 50, 100, Decimal("65")),
            ("ส่วนลด 100 บาท", "100 THB off", 200, None, Decimal("100")),
            ("กระเป๋าผ้า Taem", "Taem tote bag", 500, 20, Decimal("250")),
        )
    ]
    Reward.objects.get_or_create(brand=brand, name="เซ็ตเบเกอรี่พรีเมียม (โกลด์ขึ้นไป)", defaults={
        "name_en": "Premium bakery set (Gold and above)", "currency": currency, "points_cost": 300, "stock": 50,
        "value_thb": Decimal("180"), "min_tier": tiers["gold"]})

    User = get_user_model()
    password = derived_secret("staff-password", 16)
    staff, _ = User.objects.get_or_create(username=STAFF_USERNAME, defaults={"is_staff": True})
    if not staff.check_password(password) or not staff.is_staff:
        staff.is_staff = True
        staff.set_password(password)
        staff.save()
    staff.groups.add(manager_group())
    StaffAssignment.objects.get_or_create(user=staff, brand=brand, defaults={"role": StaffAssignment.Role.MANAGER})

    cashier_password = derived_secret("cashier-password", 16)
    cashier, _ = User.objects.get_or_create(username=CASHIER_USERNAME)
    if not cashier.check_password(cashier_password):
        cashier.set_password(cashier_password)
        cashier.save()
    StaffAssignment.objects.get_or_create(user=cashier, brand=brand, defaults={"role": StaffAssignment.Role.CASHIER})

    pos_key = "taem_demo_" + derived_secret("pos-api-key", 40)
    if not ApiKey.objects.filter(key_digest=ApiKey.digest(pos_key)).exists():
        ApiKey.objects.filter(brand=brand, name="Demo POS", revoked_at__isnull=True).update(revoked_at=timezone.now())
        api_key_create(brand=brand, name="Demo POS", raw_key=pos_key)

    _demo_consents(brand)
    _demo_profile_fields(brand)
    from loyalty.activity.demo import demo_activity_seed
    from loyalty.orders.demo import demo_orders_seed

    demo_activity_seed(brand=brand)
    orders = demo_orders_seed(brand=brand, derived_secret=derived_secret)

    members = []
    for line_user_id, first, last, phone, year in DEMO_MEMBERS:
        member, _ = Member.objects.get_or_create(brand=brand, line_user_id=line_user_id, defaults={
            "first_name": first, "last_name": last, "display_name": first, "phone": phone,
            "birth_date": f"{year}-06-15", "status": Member.Status.ACTIVE, "registered_at": timezone.now(),
            "line_reachable": True, "line_followed_at": timezone.now(),
        })
        members.append(member)
        _demo_member_consents(member)
    pending, _ = member_get_or_create_pending(brand=brand, phone="+66899990000")

    now = timezone.now()
    history = [  # (member, order, branch, total, days ago)
        (members[0], "DEMO-1001", branches[0], "1250.00", 40),
        (members[0], "DEMO-1002", branches[1], "480.50", 12),
        (members[0], "DEMO-1003", branches[0], "2100.00", 3),
        (members[1], "DEMO-1004", branches[1], "5600.00", 20),
        (members[1], "DEMO-1005", branches[0], "320.00", 1),
        (members[2], "DEMO-1006", branches[0], "99.00", 2),
        (pending, "DEMO-1007", branches[1], "760.00", 5),
    ]
    purchases = {}
    for member, order_id, branch, total, days_ago in history:
        purchases[order_id] = purchase_record(
            brand=brand, member=member, channel=Channel.POS, order_id=order_id, total=Decimal(total),
            lines=[LineInput(sku="LATTE-ICED", category="coffee", quantity=1, amount=Decimal(total))],
            purchased_at=now - timedelta(days=days_ago), branch=branch,
        ).purchase
    reward_redeem(brand=brand, member=members[0], reward_id=rewards[0].pk, request_id="demo-redeem-1")
    reward_redeem(brand=brand, member=members[1], reward_id=rewards[1].pk, request_id="demo-redeem-2")
    purchase_refund(brand=brand, purchase_id=purchases["DEMO-1005"].pk, amount=Decimal("100.00"),
                    refund_id="demo-refund-1")

    return {
        "staff_username": STAFF_USERNAME,
        "staff_password": password,
        "cashier_username": CASHIER_USERNAME,
        "cashier_password": cashier_password,
        "pos_api_key": pos_key,
        "brand_slug": brand.slug,
        "branch_codes": [b.code for b in branches],
        "line_channel_secret": channel_secret,
        "member_codes": [m.code for m in [*members, pending]],
        **orders,
    }

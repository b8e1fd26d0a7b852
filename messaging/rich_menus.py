"""Rich menus: one per member state (unregistered, member) and one per tier with ``own_rich_menu``.

``rich_menus_sync`` creates each menu through the Messaging API (definition, then a PNG
drawn with Pillow), stores its id, and makes the unregistered menu the default.
``rich_menu_link_member`` links the menu that fits a member's state to them; it runs in a
task after the state changed (follow, registration, tier change).
"""

import hashlib
import io
import json
import logging
from pathlib import Path

from django.utils import timezone
from linebot.v3.messaging import RichMenuRequest
from PIL import Image, ImageDraw, ImageFont

from loyalty.models import Tier
from members.models import Brand, Member

from . import client
from .flex import BRAND_COLOUR, liff_url
from .models import RichMenu

logger = logging.getLogger(__name__)

WIDTH, HEIGHT = 2500, 843
TIER_PREFIX = "tier:"
FONT_PATHS = ["/usr/share/fonts/truetype/tlwg/Garuda-Bold.ttf", "/usr/share/fonts/truetype/tlwg/Loma-Bold.ttf"]


def _areas(brand: Brand, key: str) -> list[tuple[str, dict]]:
    """(label, action) per column of the menu."""
    if key == "unregistered":
        return [
            ("สมัครสมาชิก\nRegister", {"type": "uri", "uri": liff_url(brand, "register")}),
            ("แต้มของฉัน\nMy points", {"type": "postback", "data": "action=balance"}),
            ("ช่วยเหลือ\nHelp", {"type": "postback", "data": "action=help"}),
        ]
    areas = [
        ("บัตรสมาชิก\nMember card", {"type": "uri", "uri": liff_url(brand, "card")}),
        ("แต้มของฉัน\nMy points", {"type": "postback", "data": "action=balance"}),
        ("ของรางวัล\nRewards", {"type": "uri", "uri": liff_url(brand, "rewards")}),
        ("คูปอง\nCoupons", {"type": "postback", "data": "action=coupons"}),
    ]
    if key.startswith(TIER_PREFIX):
        tier = Tier.objects.filter(brand=brand, code=key.removeprefix(TIER_PREFIX)).first()
        label = f"{tier.name}\n{tier.name_en or tier.name}" if tier else "ระดับของฉัน\nMy tier"
        areas[3] = (label, {"type": "postback", "data": "action=tier"})
    return areas


def menu_definition(brand: Brand, key: str) -> dict:
    areas = _areas(brand, key)
    column = WIDTH // len(areas)
    return {
        "size": {"width": WIDTH, "height": HEIGHT},
        "selected": True,
        "name": f"taem:{brand.slug}:{key}"[:300],
        "chatBarText": "เมนู · Menu",
        "areas": [
            {"bounds": {"x": index * column, "y": 0, "width": column, "height": HEIGHT}, "action": action}
            for index, (_label, action) in enumerate(areas)
        ],
    }


def _font(size: int):
    for path in FONT_PATHS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def menu_image(brand: Brand, key: str) -> bytes:
    """A PNG (2500×843, well under LINE's 1 MB) with one labelled tile per area."""
    areas = _areas(brand, key)
    column = WIDTH // len(areas)
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font = _font(90)
    for index, (label, _action) in enumerate(areas):
        left = index * column
        draw.rectangle([left + 12, 12, left + column - 12, HEIGHT - 12], fill=BRAND_COLOUR if index % 2 == 0
                       else "#04A045")
        draw.multiline_text((left + column / 2, HEIGHT / 2), label, font=font, fill="white", anchor="mm",
                            align="center", spacing=30)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def rich_menu_keys(brand: Brand) -> list[str]:
    """The brand's menus: unregistered, member, and ``tier:<code>`` per tier with its own menu."""
    tiers = Tier.objects.filter(brand=brand, own_rich_menu=True).order_by("rank").values_list("code", flat=True)
    return ["unregistered", "member", *(f"{TIER_PREFIX}{code}" for code in tiers)]


def rich_menus_sync(*, brand: Brand) -> list[RichMenu]:
    """Create (or re-create when the definition changed) every menu of the brand on LINE."""
    synced = []
    for key in rich_menu_keys(brand):
        definition = menu_definition(brand, key)
        digest = hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()
        menu, _created = RichMenu.objects.get_or_create(brand=brand, key=key)
        if menu.line_rich_menu_id and menu.definition_hash == digest:
            synced.append(menu)
            continue
        with client.line_apis(brand) as (api, blob):
            created = api.create_rich_menu(RichMenuRequest.from_dict(definition))
            blob.set_rich_menu_image(created.rich_menu_id, body=menu_image(brand, key),
                                     _headers={"Content-Type": "image/png"})
            if key == "unregistered":
                api.set_default_rich_menu(created.rich_menu_id)
            old_id = menu.line_rich_menu_id
            if old_id:
                try:
                    api.delete_rich_menu(old_id)
                except client.ApiException:
                    logger.info("old rich menu %s already gone", old_id)
        menu.line_rich_menu_id, menu.definition_hash, menu.synced_at = created.rich_menu_id, digest, timezone.now()
        menu.save()
        synced.append(menu)
    return synced


def rich_menu_key_for(member: Member) -> str:
    """``tier:<code>`` for active members of a tier with its own menu, else member/unregistered."""
    if member.status != Member.Status.ACTIVE:
        return "unregistered"
    tier = Tier.objects.filter(members__member_id=member.pk, own_rich_menu=True).values_list("code", flat=True).first()
    return f"{TIER_PREFIX}{tier}" if tier else "member"


def rich_menu_link_member(*, member_id: int) -> str | None:
    """Link the member's rich menu on LINE; returns the LINE rich menu id linked (None: nothing to do)."""
    member = Member.objects.select_related("brand").filter(pk=member_id).first()
    if member is None or not member.line_user_id or not member.line_reachable:
        return None
    key = rich_menu_key_for(member)
    menus = RichMenu.objects.filter(brand=member.brand).exclude(line_rich_menu_id="")
    menu = menus.filter(key=key).first()
    if menu is None and key.startswith(TIER_PREFIX):  # the tier's menu is not synced yet
        menu = menus.filter(key="member").first()
    if menu is None or not member.brand.line_channel_access_token:
        return None
    with client.line_apis(member.brand) as (api, _blob):
        try:
            api.link_rich_menu_id_to_user(member.line_user_id, menu.line_rich_menu_id)
        except client.ApiException as error:
            raise client.LineError(f"rich menu link failed ({error.status})", status=error.status,
                                   transient=(error.status or 500) >= 500 or error.status == 429) from error
    return menu.line_rich_menu_id

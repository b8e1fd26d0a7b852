"""What a broadcast says to one member: placeholders filled in their language, as LINE messages or plain text.

``{name}`` placeholders are replaced by a regular expression (never ``str.format``), so
a stray brace or an unknown name in staff text is left as written instead of failing.
Members whose rendered messages are identical share one multicast: ``content_key``
is the grouping key, and a text without member placeholders renders once per language.
"""

import json
import re
from dataclasses import dataclass, field

from django.utils import translation
from django.utils.translation import gettext as _

from loyalty.models import Coupon, MemberTier, PointAccount
from loyalty.services.tiers import brand_tiers, entry_tier, program_for
from members.models import Member
from messaging.flex import liff_url

from .models import Broadcast

PLACEHOLDER = re.compile(r"\{(\w+)\}")
PLACEHOLDERS = ("first_name", "last_name", "display_name", "member_code", "tier", "points", "coupon_code",
                "coupon_name", "brand")
MEMBER_PLACEHOLDERS = frozenset(PLACEHOLDERS) - {"brand"}
BRAND_COLOUR = "#06C755"


@dataclass
class MemberContext:
    """The values a member's message is filled with."""

    language: str = "th"
    values: dict[str, str] = field(default_factory=dict)


def placeholders_used(broadcast: Broadcast) -> set[str]:
    texts = (broadcast.text_th, broadcast.text_en, broadcast.title_th, broadcast.title_en)
    return {name for text in texts for name in PLACEHOLDER.findall(text or "") if name in PLACEHOLDERS}


def is_personalised(broadcast: Broadcast) -> bool:
    """Whether members of one language can get different messages (then grouping decides multicast/push)."""
    return bool(placeholders_used(broadcast) & MEMBER_PLACEHOLDERS) or broadcast.coupon_reward_id is not None


def fill(text: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text or "")


def _pick(thai: str, english: str, language: str) -> str:
    return english if language == "en" and english else thai


def _reward_name(reward, language: str) -> str:
    return _pick(reward.name, reward.name_en, language) if reward is not None else ""


def member_contexts(broadcast: Broadcast, members: list[Member],
                    coupons: dict[int, Coupon] | None = None) -> dict[int, MemberContext]:
    """Member id → context, reading only what the broadcast's placeholders need (a few set-based queries)."""
    used = placeholders_used(broadcast)
    ids = [member.pk for member in members]
    tiers: dict[int, object] = {}
    if "tier" in used and ids:
        program = program_for(broadcast.brand_id)
        if program is not None and program.is_active:
            default = entry_tier(brand_tiers(broadcast.brand_id))
            tiers = dict.fromkeys(ids, default)
            tiers.update((row.member_id, row.tier) for row in
                         MemberTier.objects.filter(member_id__in=ids).select_related("tier"))
    points: dict[int, int] = {}
    if "points" in used and ids:
        points = dict(PointAccount.objects.filter(member_id__in=ids, currency__is_default=True)
                      .values_list("member_id", "balance"))
    coupons = coupons or {}
    contexts = {}
    for member in members:
        language = member.language if member.language in ("th", "en") else "th"
        with translation.override(language):
            tier = tiers.get(member.pk)
            coupon = coupons.get(member.pk)
            values = {
                "first_name": member.first_name or member.display_name or _("member"),
                "last_name": member.last_name,
                "display_name": member.display_name or member.first_name or _("member"),
                "member_code": member.code,
                "tier": _pick(tier.name, tier.name_en, language) if tier is not None else "",
                "points": f"{points.get(member.pk, 0):,}",
                "coupon_code": coupon.code if coupon is not None else "",
                "coupon_name": _reward_name(broadcast.coupon_reward, language) if coupon is not None else "",
                "brand": broadcast.brand.name,
            }
        contexts[member.pk] = MemberContext(language=language, values=values)
    return contexts


def brand_context(broadcast: Broadcast, language: str) -> MemberContext:
    """The only values a message without member placeholders uses (one render per language)."""
    return MemberContext(language=language, values={"brand": broadcast.brand.name})


def preview_context(broadcast: Broadcast, language: str) -> MemberContext:
    """Sample values for the admin preview and for a test send to a bare LINE user id."""
    with translation.override(language):
        values = {
            "first_name": _("Somchai"), "last_name": _("Jaidee"), "display_name": _("Somchai"),
            "member_code": "AB12CD34", "tier": _("Gold"), "points": "1,250",
            "coupon_code": "TEST0000TEST0000" if broadcast.coupon_reward_id else "",
            "coupon_name": _reward_name(broadcast.coupon_reward, language),
            "brand": broadcast.brand.name,
        }
    return MemberContext(language=language, values=values)


def _texts(broadcast: Broadcast, context: MemberContext) -> tuple[str, str]:
    """(title, text) filled in; the coupon code is added when a coupon drop's text forgot it."""
    language = context.language
    title = fill(_pick(broadcast.title_th, broadcast.title_en, language), context.values)
    text = fill(_pick(broadcast.text_th, broadcast.text_en, language), context.values)
    code = context.values.get("coupon_code")
    if code and code not in text and code not in title:
        with translation.override(language):
            text = f"{text}\n\n" + _("Your coupon code: %(code)s") % {"code": code}
    return title, text


def button_uri(broadcast: Broadcast) -> str:
    if broadcast.button_target == Broadcast.ButtonTarget.URL:
        return broadcast.button_url
    if broadcast.button_target == Broadcast.ButtonTarget.LIFF:
        return liff_url(broadcast.brand, broadcast.button_liff_path)
    return ""


def line_messages(broadcast: Broadcast, context: MemberContext) -> list[dict]:
    """The LINE message objects for one member (a text, or a Flex bubble)."""
    title, text = _texts(broadcast, context)
    if broadcast.message_kind == Broadcast.MessageKind.TEXT:
        return [{"type": "text", "text": (f"{title}\n{text}" if title else text)[:5000]}]
    body = []
    if title:
        body.append({"type": "text", "text": title, "weight": "bold", "size": "lg", "wrap": True})
    body.append({"type": "text", "text": text[:2000], "wrap": True, "size": "sm"})
    bubble = {"type": "bubble", "body": {"type": "box", "layout": "vertical", "spacing": "md", "contents": body}}
    if broadcast.image_url:
        bubble["hero"] = {"type": "image", "url": broadcast.image_url, "size": "full", "aspectRatio": "20:13",
                          "aspectMode": "cover"}
    uri = button_uri(broadcast)
    if uri:
        label = _pick(broadcast.button_label_th, broadcast.button_label_en, context.language) or "OK"
        bubble["footer"] = {"type": "box", "layout": "vertical", "contents": [
            {"type": "button", "style": "primary", "color": BRAND_COLOUR, "height": "sm",
             "action": {"type": "uri", "label": label[:20], "uri": uri}}]}
    alt = f"{title}: {text}" if title else text
    return [{"type": "flex", "altText": alt[:400], "contents": bubble}]


def plain_text(broadcast: Broadcast, context: MemberContext) -> tuple[str, str]:
    """(subject, body) for SMS and e-mail: the title, the text and the button's address."""
    title, text = _texts(broadcast, context)
    uri = button_uri(broadcast)
    body = "\n\n".join(part for part in (text, uri) if part)
    return title or broadcast.brand.name, body


def content_key(messages: list[dict]) -> str:
    return json.dumps(messages, sort_keys=True, ensure_ascii=False)

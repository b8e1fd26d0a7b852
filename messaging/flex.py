"""Message templates: text and Flex JSON rendered per member, in the member's language.

Each function returns ``(template_name, messages)`` where messages are LINE message
dicts (camelCase, as the Messaging API takes them).
"""

from django.conf import settings
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

BRAND_COLOUR = "#06C755"


def liff_url(brand, path: str = "") -> str:
    """The LIFF URL of a portal page (the site URL while the brand has no LIFF app)."""
    path = path.strip("/")
    if brand.liff_id:
        return f"https://liff.line.me/{brand.liff_id}/{path}".rstrip("/")
    return f"{settings.SITE_URL.rstrip('/')}/liff/{brand.slug}/{path}".rstrip("/") + "/"


def _name(member) -> str:
    return member.first_name or member.display_name or _("member")


def _text(text: str, **style) -> dict:
    return {"type": "text", "text": text, "wrap": True, **style}


def _button(label: str, *, uri: str | None = None, postback: str | None = None, primary: bool = True) -> dict:
    """A footer button; LINE shows at most 20 characters of ``label``."""
    action = ({"type": "uri", "label": label, "uri": uri} if uri
              else {"type": "postback", "label": label, "data": postback, "displayText": label})
    button = {"type": "button", "style": "primary" if primary else "secondary", "height": "sm", "action": action}
    if primary:
        button["color"] = BRAND_COLOUR
    return button


def _bubble(title: str, body: list[dict], buttons: list[dict] | None = None) -> dict:
    bubble = {
        "type": "bubble",
        "header": {"type": "box", "layout": "vertical", "backgroundColor": BRAND_COLOUR,
                   "contents": [_text(title, weight="bold", color="#FFFFFF", size="lg")]},
        "body": {"type": "box", "layout": "vertical", "spacing": "md", "contents": body},
    }
    if buttons:
        bubble["footer"] = {"type": "box", "layout": "vertical", "spacing": "sm", "contents": buttons}
    return bubble


def _flex(alt_text: str, contents: dict) -> dict:
    return {"type": "flex", "altText": alt_text[:400], "contents": contents}


def _row(label: str, value: str) -> dict:
    return {"type": "box", "layout": "baseline", "contents": [
        _text(label, color="#888888", size="sm", flex=3), _text(value, size="sm", flex=4, align="end")]}


def welcome(member) -> tuple[str, list[dict]]:
    with translation.override(member.language):
        register = liff_url(member.brand, "register")
        text = _("Welcome to %(brand)s! Register as a member to collect points and get rewards.") % {
            "brand": member.brand.name}
        return "welcome", [
            _flex(text, _bubble(member.brand.name, [_text(text)], [_button(_("Register now"), uri=register)])),
        ]


def balance(member, accounts, expiring) -> tuple[str, list[dict]]:
    """``accounts``: PointAccount list; ``expiring``: (points, expires_at) or None."""
    with translation.override(member.language):
        rows = [_row(account.currency.name, _("%(points)s points") % {"points": f"{account.balance:,}"})
                for account in accounts]
        if expiring:
            points, when = expiring
            rows.append(_text(_("%(points)s points expire on %(date)s") % {
                "points": f"{points:,}", "date": formats.date_format(timezone.localtime(when), "j M Y")},
                color="#D93025", size="sm"))
        if member.status == member.Status.PENDING:
            rows.append(_text(_("Register to redeem your points for rewards."), size="sm"))
        main = accounts[0].balance if accounts else 0
        alt = _("You have %(points)s points") % {"points": f"{main:,}"}
        buttons = [_button(_("Rewards"), uri=liff_url(member.brand, "rewards")),
                   _button(_("History"), uri=liff_url(member.brand, "points"), primary=False)]
        return "balance", [_flex(alt, _bubble(_("Hello %(name)s") % {"name": _name(member)}, rows, buttons))]


def coupons(member, coupon_list) -> tuple[str, list[dict]]:
    with translation.override(member.language):
        if not coupon_list:
            text = _("You have no coupons right now. Redeem your points for rewards!")
            return "coupons_empty", [_flex(text, _bubble(_("My coupons"), [_text(text)], [
                _button(_("Rewards"), uri=liff_url(member.brand, "rewards"))]))]
        bubbles = []
        for coupon in coupon_list[:10]:
            reward_name = coupon.reward.name_en if member.language == "en" and coupon.reward.name_en else \
                coupon.reward.name
            rows = [_text(reward_name, weight="bold"), _row(_("Code"), coupon.display_code)]
            if coupon.expires_at:
                rows.append(_row(_("Valid until"),
                                 formats.date_format(timezone.localtime(coupon.expires_at), "j M Y")))
            bubbles.append(_bubble(_("Coupon"), rows, [_button(_("Show QR"), uri=liff_url(member.brand, "coupons"))]))
        alt = _("You have %(count)s coupons") % {"count": len(coupon_list)}
        return "coupons", [_flex(alt, {"type": "carousel", "contents": bubbles})]


def member_card(member, accounts) -> tuple[str, list[dict]]:
    with translation.override(member.language):
        main = accounts[0].balance if accounts else 0
        rows = [_row(_("Member code"), member.code),
                _row(_("Points"), f"{main:,}")]
        alt = _("Member card %(code)s") % {"code": member.code}
        return "member_card", [_flex(alt, _bubble(member.brand.name, rows, [
            _button(_("Open my card (QR)"), uri=liff_url(member.brand, "card"))]))]


def help_message(member) -> tuple[str, list[dict]]:
    with translation.override(member.language):
        text = _("Type “points” to see your balance, “coupons” for your coupons, “card” for your member card.")
        buttons = [_button(_("My points"), postback="action=balance"),
                   _button(_("My coupons"), postback="action=coupons", primary=False),
                   _button(_("Member card"), postback="action=card", primary=False)]
        return "help", [_flex(text, _bubble(_("How can we help?"), [_text(text)], buttons))]


def points_earned(member, *, points: int, balance_after: int, where: str = "") -> tuple[str, list[dict]]:
    with translation.override(member.language):
        text = _("You earned %(points)s points. Your balance is now %(balance)s points.") % {
            "points": f"{points:,}", "balance": f"{balance_after:,}"}
        rows = [_text(text)] + ([_row(_("Where"), where)] if where else [])
        return "points_earned", [_flex(text, _bubble(_("Points earned"), rows, [
            _button(_("Rewards"), uri=liff_url(member.brand, "rewards"))]))]


def reward_redeemed(member, coupon) -> tuple[str, list[dict]]:
    with translation.override(member.language):
        text = _("You redeemed %(reward)s. Show the coupon code %(code)s at the counter.") % {
            "reward": coupon.reward.name, "code": coupon.display_code}
        rows = [_text(text)]
        if coupon.expires_at:
            rows.append(_row(_("Valid until"), formats.date_format(timezone.localtime(coupon.expires_at), "j M Y")))
        return "reward_redeemed", [_flex(text, _bubble(_("Reward redeemed"), rows, [
            _button(_("Show QR"), uri=liff_url(member.brand, "coupons"))]))]


def points_expiring(member, *, points: int, expires_at) -> tuple[str, list[dict]]:
    with translation.override(member.language):
        text = _("%(points)s of your points expire on %(date)s. Redeem them before they go!") % {
            "points": f"{points:,}", "date": formats.date_format(timezone.localtime(expires_at), "j M Y")}
        return "points_expiring", [_flex(text, _bubble(_("Points expiring soon"), [_text(text)], [
            _button(_("Rewards"), uri=liff_url(member.brand, "rewards"))]))]


def _tier_rows(member, status) -> list[dict]:
    """The member's tier, its benefits, when it is reviewed and what the next tier needs."""
    language = member.language
    rows = []
    tier = status.tier if status else None
    if tier is not None:
        benefits = tier.benefits_text(language)
        if tier.earn_multiplier > 1:
            rows.append(_row(_("Points"), _("×%(multiplier)s on every purchase") % {
                "multiplier": f"{tier.earn_multiplier.normalize():f}"}))
        if tier.birthday_bonus:
            rows.append(_row(_("Birthday"), _("%(points)s bonus points") % {"points": f"{tier.birthday_bonus:,}"}))
        if benefits:
            rows.append(_text(benefits, size="sm"))
    if status is not None and status.review_date and tier is not None:
        rows.append(_row(_("Reviewed on"), formats.date_format(status.review_date, "j M Y")))
    if status is not None and status.grace_until:
        rows.append(_text(_("Grace period until %(date)s: qualify again to keep your tier.") % {
            "date": formats.date_format(timezone.localtime(status.grace_until).date(), "j M Y")},
            color="#D93025", size="sm"))
    step = status.next_step(language) if status else ""
    if step:
        rows.append(_text(step, size="sm", weight="bold"))
    return rows


def tier_card(member, status) -> tuple[str, list[dict]]:
    """The member's tier card (chat command "tier"/"ระดับ"): ``status`` is a ``TierStatus`` or None."""
    with translation.override(member.language):
        if status is None:
            text = _("%(brand)s has no membership tiers yet.") % {"brand": member.brand.name}
            return "tier_none", [_flex(text, _bubble(_("My tier"), [_text(text)]))]
        tier = status.tier
        name = tier.label(member.language) if tier else _("No tier yet")
        alt = _("Your tier: %(tier)s") % {"tier": name}
        header = [_text(name, weight="bold", size="xl", color=tier.color if tier else "#888888")]
        return "tier_card", [_flex(alt, _bubble(_("My tier"), header + _tier_rows(member, status), [
            _button(_("Tiers and benefits"), uri=liff_url(member.brand, "tier"))]))]


def tier_changed(member, *, kind: str, old_tier, new_tier, status=None) -> tuple[str, list[dict]]:
    """A tier change (upgrade, downgrade, lapse, staff change): the new tier, its benefits, what next."""
    with translation.override(member.language):
        new_name = new_tier.label(member.language) if new_tier else ""
        old_name = old_tier.label(member.language) if old_tier else ""
        if kind == "upgrade":
            text = _("Congratulations! You are now %(new)s.") % {"new": new_name}
        elif kind == "lapse" or new_tier is None:
            text = _("Your %(old)s tier has ended.") % {"old": old_name}
        elif kind == "downgrade":
            text = _("Your tier is now %(new)s (was %(old)s).") % {"new": new_name, "old": old_name}
        else:
            text = _("Your tier changed from %(old)s to %(new)s.") % {"old": old_name or "-", "new": new_name}
        header = [_text(text, weight="bold")]
        return "tier_changed", [_flex(text, _bubble(_("Your tier"), header + _tier_rows(member, status), [
            _button(_("My benefits"), uri=liff_url(member.brand, "tier"))]))]


def receipt_decided(member, receipt) -> tuple[str, list[dict]]:
    """A receipt the member uploaded was approved (with the points) or rejected (with the reason)."""
    with translation.override(member.language):
        where = receipt.store.name if receipt.store else receipt.store_text
        rows = []
        if receipt.status == "approved":
            points = receipt.purchase.points_earned if receipt.purchase else 0
            text = _("Your receipt was approved: you earned %(points)s points.") % {"points": f"{points:,}"}
            title, template = _("Receipt approved"), "receipt_approved"
        else:
            reason = _("This receipt was already uploaded.") if receipt.duplicate_of_id else receipt.reason
            text = _("We could not accept your receipt: %(reason)s") % {"reason": reason}
            title, template = _("Receipt not accepted"), "receipt_rejected"
        rows.append(_text(text))
        if where:
            rows.append(_row(_("Store"), where[:60]))
        if receipt.total is not None:
            rows.append(_row(_("Total"), f"{receipt.total:,.2f} THB"))
        return template, [_flex(text, _bubble(title, rows, [
            _button(_("My receipts"), uri=liff_url(member.brand, "receipts"))]))]

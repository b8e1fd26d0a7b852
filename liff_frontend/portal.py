"""The member portal pages (LIFF, and the brand's website after LINE Login).

Every page finds the member from the Django session (opened by the LIFF ID-token flow or
allauth's LINE login) for the brand in the URL; nothing trusts a member id from the
browser. Pending members are sent to registration, members with a missing required
consent to the consent page, before anything else.
"""

import json
import urllib.request
import uuid
from datetime import date, timedelta
from functools import wraps

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from config.domain import DomainError
from consent.selectors import consent_versions_current, consents_missing, consents_to_ask
from consent.services import consent_record
from loyalty import selectors as loyalty_selectors
from loyalty.models import Coupon
from loyalty.services.redemption import reward_redeem
from members import card
from members.models import Brand, Member
from members.otp import phone_verification_start
from members.profile import custom_fields_clean, member_profile_update, profile_fields
from members.registration import Registration, member_register
from messaging.tasks import link_rich_menu

NAV = [  # (url name, label); later issues fill the slots
    ("card", "Card"), ("points", "Points"), ("rewards", "Rewards"), ("coupons", "Coupons"), ("profile", "Profile"),
]
RECENT_REDEMPTION = timedelta(minutes=2)
SLOTS = ["missions", "lucky_draws", "leaderboard", "receipt_upload", "consent_centre"]


def _brand(slug: str) -> Brand:
    return get_object_or_404(Brand, slug=slug, is_active=True)


def portal_member(request, brand: Brand) -> Member | None:
    user = request.user
    if not user.is_authenticated:
        return None
    return Member.objects.select_related("brand").filter(user=user, brand=brand).first()


def _context(request, brand: Brand, member: Member | None, page: str, **extra) -> dict:
    return {"brand": brand, "member": member, "page": page, "nav": NAV, "slots": SLOTS,
            "liff_mock": settings.LIFF_MOCK, "liff_id": brand.liff_id or "mock-liff-id", **extra}


def member_page(page: str, *, allow_pending: bool = False, allow_missing_consent: bool = False):
    """Resolve the brand and the session's member; send others where they must go first."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, brand_slug: str, *args, **kwargs):
            brand = _brand(brand_slug)
            member = portal_member(request, brand)
            if member is None:
                return _login_page(request, brand, page)
            language = request.GET.get("lang")
            if language in ("th", "en") and language != member.language:
                member = member_profile_update(member=member, changes={"language": language},
                                               changed_by=request.user, channel="liff")
            translation.activate(member.language)
            request.LANGUAGE_CODE = member.language
            if member.status == Member.Status.PENDING and not allow_pending:
                return redirect("liff:register", brand.slug)
            if member.status == Member.Status.ACTIVE and not allow_missing_consent and consents_missing(
                    member=member):
                return redirect("liff:consents", brand.slug)
            if member.status in (Member.Status.SUSPENDED, Member.Status.MERGED):
                return render(request, "liff_frontend/suspended.html", _context(request, brand, member, page))
            return view(request, brand, member, *args, **kwargs)

        return wrapper

    return decorate


def _login_page(request, brand: Brand, page: str):
    """Not signed in: the page runs LIFF, sends the ID token to /session/ and reloads.

    With ``LIFF_MOCK`` (development against the fake LINE server), ``?as=<LINE user id>``
    plays that LINE user: the fake mints a real, signed ID token that the server then
    verifies like any other.
    """
    mock_token = ""
    simulated = request.GET.get("as", "")
    if settings.LIFF_MOCK and simulated.startswith("U") and len(simulated) == 33 and brand.line_login_channel_id:
        mock_token = _fake_id_token(simulated, brand.line_login_channel_id)
    context = _context(request, brand, None, page, mock_token=mock_token, simulated=simulated)
    status = 401 if request.headers.get("Accept") == "application/json" else 200
    return render(request, "liff_frontend/login.html", context, status=status)


def _fake_id_token(user_id: str, channel_id: str) -> str:
    """Development only: an ID token from the fake LINE server (never used against real LINE)."""
    body = json.dumps({"sub": user_id, "aud": channel_id, "name": "Simulated member"}).encode()
    url = f"{settings.LINE_LOGIN_API_BASE.rstrip('/')}/__fake__/id_token"
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"},  # noqa: S310
                                     method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - the configured fake
        return json.loads(response.read())["id_token"]


def home(request, brand_slug: str):
    return redirect("liff:card", brand_slug)


# --- registration --------------------------------------------------------------------------


def _field_rows(brand: Brand, member: Member, values: dict, errors: dict) -> list[dict]:
    rows = []
    for field in profile_fields(brand=brand):
        value = values.get(field.key)
        rows.append({"field": field, "label": field.label(member.language), "name": f"custom_{field.key}",
                     "value": value if value is not None else "",
                     "values": value if isinstance(value, list) else ([value] if value else []),
                     "choices": [(c.get("value"), field.choice_label(c.get("value"), member.language))
                                 for c in field.choices],
                     "errors": errors.get(f"custom_{field.key}", [])})
    return rows


def _custom_from_post(brand: Brand, post) -> dict:
    data = {}
    for field in profile_fields(brand=brand):
        name = f"custom_{field.key}"
        data[field.key] = post.getlist(name) if field.kind == field.Kind.MULTI_CHOICE else post.get(name, "")
    return data


def _parse_date(raw: str):
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return "invalid"


def _client(request) -> tuple[str | None, str]:
    return request.META.get("REMOTE_ADDR"), request.headers.get("User-Agent", "")[:500]


@require_http_methods(["GET", "POST"])
@member_page("register", allow_pending=True, allow_missing_consent=True)
def register(request, brand: Brand, member: Member):
    if member.status == Member.Status.ACTIVE:
        return redirect("liff:card", brand.slug)
    if request.GET.get("ref"):  # a friend's invitation link (campaigns.missions referrals)
        request.session["referral_code"] = request.GET["ref"][:32]
    post = request.POST
    errors, notice = {}, ""
    values = {"first_name": post.get("first_name", member.first_name), "last_name": post.get("last_name", member.last_name),
              "phone": post.get("phone", ""), "birth_date": post.get("birth_date", ""),
              "gender": post.get("gender", ""), "email": post.get("email", ""),
              "language": post.get("language", member.language)}
    custom_values = _custom_from_post(brand, post) if request.method == "POST" else dict(member.custom_fields)
    versions = consent_versions_current(brand=brand)
    granted = {int(v) for v in post.getlist("consents") if v.isdigit()}
    verification_id = request.session.get(f"otp:{brand.pk}")
    if request.method == "POST" and post.get("action") == "send_code":
        try:
            verification = phone_verification_start(brand=brand, member=member, phone=values["phone"])
        except DomainError as error:
            errors.update({"phone": [str(error.message)]})
        else:
            request.session[f"otp:{brand.pk}"] = verification.pk
            verification_id = verification.pk
            values["phone"] = verification.phone
            notice = _("We sent a 6-digit code to %(phone)s.") % {"phone": verification.phone}
    elif request.method == "POST":
        birth = _parse_date(values["birth_date"])
        if birth == "invalid":
            errors["birth_date"] = [_("Enter a date.")]
        elif not verification_id:
            errors["code"] = [_("Send a code to your phone first.")]
        else:
            data = Registration(first_name=values["first_name"], last_name=values["last_name"],
                                verification_id=verification_id, code=post.get("code", ""), birth_date=birth,
                                gender=values["gender"] if values["gender"] in dict(Member.Gender.choices) else "",
                                email=values["email"], language=values["language"] if values["language"] in
                                ("th", "en") else "th", custom_fields=custom_values, granted_version_ids=granted)
            ip, agent = _client(request)
            try:
                member_register(member=member, data=data, channel="liff", ip=ip, user_agent=agent)
            except DomainError as error:
                errors.update(error.fields or {"code": [str(error.message)]})
            else:
                request.session.pop(f"otp:{brand.pk}", None)
                link_rich_menu.delay(member.pk)
                referral_code = request.session.pop("referral_code", "")
                if referral_code:
                    from campaigns.missions.referrals import referral_record

                    member.refresh_from_db()
                    referral_record(referred=member, code=referral_code)
                return redirect(f"{reverse('liff:card', args=[brand.slug])}?welcome=1")
    context = _context(request, brand, member, "register", values=values, errors=errors, notice=notice,
                       code_sent=bool(verification_id), genders=Member.Gender.choices,
                       fields=_field_rows(brand, member, custom_values, errors),
                       versions=[(v, v.pk in granted) for v in versions])
    return render(request, "liff_frontend/register.html", context, status=400 if errors else 200)


@require_http_methods(["GET", "POST"])
@member_page("consents", allow_missing_consent=True)
def consents(request, brand: Brand, member: Member):
    missing = consents_missing(member=member)
    # Optional documents the member never answered are asked here too, never forced.
    versions = missing + [v for v in consents_to_ask(member=member) if v not in missing]
    if request.method == "POST":
        granted = {int(v) for v in request.POST.getlist("consents") if v.isdigit()}
        if any(v.pk not in granted for v in missing if v.document.is_required):
            return render(request, "liff_frontend/consents.html", _context(
                request, brand, member, "consents", versions=versions,
                error=_("Please accept the required documents to continue.")), status=400)
        ip, agent = _client(request)
        for version in versions:
            consent_record(member=member, version=version, granted=version.pk in granted, channel="liff", ip=ip,
                           user_agent=agent)
        return redirect("liff:card", brand.slug)
    if not versions:
        return redirect("liff:card", brand.slug)
    return render(request, "liff_frontend/consents.html", _context(request, brand, member, "consents",
                                                                  versions=versions))


# --- card, points, rewards, coupons, profile ---------------------------------------------


@member_page("card")
def member_card(request, brand: Brand, member: Member):
    token = card.card_token(member)
    tier_status = loyalty_selectors.member_tier_status(member=member)
    return render(request, "liff_frontend/card.html", _context(
        request, brand, member, "card", balances=loyalty_selectors.member_balances(member=member),
        qr=card.qr_svg(token), rotate_seconds=card.ROTATE_SECONDS, welcome=request.GET.get("welcome") == "1",
        tier_status=tier_status, tier_next_step=tier_status.next_step(member.language) if tier_status else ""))


@member_page("tier")
def tier(request, brand: Brand, member: Member):
    """The member's tier, what the next one needs and by when, and every tier with its benefits."""
    status = loyalty_selectors.member_tier_status(member=member)
    rows = [{"tier": t, "name": t.label(member.language), "benefits": t.benefits_text(member.language),
             "multiplier": f"{t.earn_multiplier.normalize():f}",
             "current": status.tier is not None and t.pk == status.tier.pk} for t in status.tiers] if status else []
    return render(request, "liff_frontend/tier.html", _context(
        request, brand, member, "tier", status=status, rows=rows,
        tier_name=status.tier.label(member.language) if status and status.tier else "",
        next_step=status.next_step(member.language) if status else ""))


@member_page("card")
def member_card_qr(request, brand: Brand, member: Member):
    token = card.card_token(member)
    response = JsonResponse({"svg": card.qr_svg(token), "expires_in": card.ROTATE_SECONDS})
    response["Cache-Control"] = "no-store"
    return response


@member_page("points")
def points(request, brand: Brand, member: Member):
    page = Paginator(loyalty_selectors.member_ledger(member=member), 20).get_page(request.GET.get("page"))
    return render(request, "liff_frontend/points.html", _context(
        request, brand, member, "points", balances=loyalty_selectors.member_balances(member=member),
        expiring=loyalty_selectors.member_points_expiring(member=member), entries=page))


@member_page("rewards")
def rewards(request, brand: Brand, member: Member):
    balances = {account.currency_id: account.balance for account in loyalty_selectors.member_balances(member=member)}
    items = [(reward, balances.get(reward.currency_id, 0) >= reward.points_cost, reward.stock == 0,
              "" if unlocked else reward.min_tier.label(member.language))
             for reward, unlocked in loyalty_selectors.rewards_for_member(member=member)]
    return render(request, "liff_frontend/rewards.html", _context(request, brand, member, "rewards", items=items,
                                                                 balances=balances))


@require_http_methods(["GET", "POST"])
@member_page("rewards")
def reward_redeem_page(request, brand: Brand, member: Member, reward_id: int):
    reward = loyalty_selectors.rewards_available(brand=brand).filter(pk=reward_id).first()
    if reward is None:
        raise Http404
    error = ""
    if request.method == "POST":
        request_id = request.POST.get("request_id", "")
        try:
            uuid.UUID(request_id)
            result = reward_redeem(brand=brand, member=member, reward_id=reward.pk,
                                   request_id=f"liff:{member.pk}:{request_id}", channel="liff")
        except ValueError:
            error = _("Please try again.")
        except DomainError as domain_error:
            error = str(domain_error.message)
        else:
            return redirect(f"{reverse('liff:coupons', args=[brand.slug])}?new={result.redemption.coupon.code}")
    balance = next((a.balance for a in loyalty_selectors.member_balances(member=member)
                    if a.currency_id == reward.currency_id), 0)
    # Back + a re-fetched confirmation page must not redeem again by accident: a redemption of this
    # reward moments ago is shown instead of the form, with an explicit "redeem another".
    recent = None
    if request.method == "GET" and request.GET.get("again") != "1":
        recent = (Coupon.objects.filter(member=member, reward=reward, redemption__channel="liff",
                                        issued_at__gte=timezone.now() - RECENT_REDEMPTION).order_by("-pk").first())
    return render(request, "liff_frontend/redeem.html", _context(
        request, brand, member, "rewards", reward=reward, balance=balance, enough=balance >= reward.points_cost,
        request_id=uuid.uuid4(), error=error, recent=recent), status=422 if error else 200)


@member_page("coupons")
def coupons(request, brand: Brand, member: Member):
    now = timezone.now()
    mine = list(Coupon.objects.filter(member=member).select_related("reward", "used_branch").order_by("-issued_at")[:100])
    active = [c for c in mine if c.status == Coupon.Status.ISSUED and (c.expires_at is None or c.expires_at > now)]
    used = [c for c in mine if c.status == Coupon.Status.USED]
    expired = [c for c in mine if c not in active and c not in used]
    return render(request, "liff_frontend/coupons.html", _context(
        request, brand, member, "coupons", active=[(c, card.qr_svg(c.code)) for c in active], used=used,
        expired=expired, new=request.GET.get("new")))


@require_http_methods(["GET", "POST"])
@member_page("profile")
def profile(request, brand: Brand, member: Member):
    errors, saved = {}, False
    values = {name: getattr(member, name) for name in ("first_name", "last_name", "email", "gender", "language")}
    values["birth_date"] = member.birth_date.isoformat() if member.birth_date else ""
    custom_values = dict(member.custom_fields)
    if request.method == "POST":
        post = request.POST
        values = {name: post.get(name, "").strip() for name in values}
        custom_values = _custom_from_post(brand, post)
        birth = _parse_date(values["birth_date"])
        for name in ("first_name", "last_name"):
            if not values[name]:
                errors[name] = [_("This field is required.")]
        if birth == "invalid":
            errors["birth_date"] = [_("Enter a date.")]
        if values["language"] not in ("th", "en"):
            values["language"] = member.language
        if values["gender"] not in dict(Member.Gender.choices):
            values["gender"] = ""
        try:
            cleaned_custom = custom_fields_clean(brand=brand, data=custom_values)
        except DomainError as error:
            errors.update(error.fields)
        if not errors:
            changes = {**values, "birth_date": birth}
            member = member_profile_update(member=member, changes=changes, custom_fields=cleaned_custom,
                                           changed_by=request.user, channel="liff")
            saved = True
    return render(request, "liff_frontend/profile.html", _context(
        request, brand, member, "profile", values=values, errors=errors, saved=saved, genders=Member.Gender.choices,
        fields=_field_rows(brand, member, custom_values, errors)), status=400 if errors else 200)


# --- embed ---------------------------------------------------------------------------------


@member_page("card")
def embed_card(request, brand: Brand, member: Member):
    response = render(request, "liff_frontend/embed_card.html", _context(
        request, brand, member, "card", balances=loyalty_selectors.member_balances(member=member),
        qr=card.qr_svg(card.card_token(member)), rotate_seconds=card.ROTATE_SECONDS))
    origins = " ".join(line.strip() for line in brand.embed_origins.splitlines() if line.strip())
    response["Content-Security-Policy"] = f"frame-ancestors 'self' {origins}".strip()
    response.xframe_options_exempt = True
    return response


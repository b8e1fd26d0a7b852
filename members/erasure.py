"""Erasing a member (PDPA right to erasure): personal data removed, financial and legal rows kept.

What happens, in one transaction under the member's row lock (``member_erase``):

- The ``Member`` row stays (the ledger, purchases, coupons and consent log point at it, so
  ``verify_ledger`` and every report keep adding up) but holds nothing personal any more:
  names, phone, e-mail, birth date, gender, custom profile values and the LINE user id are
  cleared, the member code is replaced by a new random one, the login ``User`` is unlinked,
  renamed and disabled, and its LINE social account is deleted. The status becomes
  *suspended*, so nobody can earn or redeem on it again. A later follow or LIFF login of the
  same LINE user finds no member and starts a new, empty one.
- Members merged into this one (the same person's phone-only history) are erased with it.
- Every other row that points at the member is handled by the rule for its model in
  ``RULES`` (free text blanked, images deleted, contact details cleared) or kept as is when
  ``KEPT`` says why it holds nothing personal beyond the (now anonymous) link. A model with a
  foreign key to ``Member`` that is in neither is refused at erasure time
  (``ErasureRuleMissing``), and a test lists them: a new app must decide.
- The consent log keeps every decision; its IP addresses and user agents are nulled through
  ``consent.services.consent_records_anonymise`` (the one permitted update, recorded).
- LINE webhook events of that LINE user at the brand lose their payload and user id; the
  outbound messages addressed only to the member lose their content, and multicasts drop
  the member's LINE user id from their recipients.
- The erasure itself is audited (``PersonalDataAccess``, action *erasure*: who, when, why).

Receipt images are deleted from storage after commit (a rolled-back erasure keeps them).
"""

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config.domain import Conflict

from .data_export import personal_models
from .models import Member, MemberChange, generate_member_code

logger = logging.getLogger(__name__)


class MemberAlreadyErased(Conflict):
    code = "member_already_erased"
    message = _("This member's personal data has already been erased.")


class ErasureRuleMissing(Exception):
    """A model points at members but the erasure does not know what to do with it."""


@dataclass
class ErasureResult:
    member_id: int
    reason: str = ""
    staff_user: object = None
    counts: dict[str, int] = field(default_factory=dict)
    files_deleted: list[str] = field(default_factory=list)


# --- per-model rules -----------------------------------------------------------------------------

Rule = Callable[[list[int], ErasureResult], int]


def _blank(model_label: str, column: str, **values) -> Rule:
    """A rule that sets ``values`` on the rows whose ``column`` is one of the member ids."""

    def rule(member_ids: list[int], result: ErasureResult) -> int:
        model = _model(model_label)
        return model._default_manager.filter(**{f"{column}__in": member_ids}).update(**values) if model else 0

    return rule


def _delete(model_label: str, column: str) -> Rule:
    """A rule that deletes the rows (profiling about the person, nothing financial or legal)."""

    def rule(member_ids: list[int], result: ErasureResult) -> int:
        model = _model(model_label)
        return model._default_manager.filter(**{f"{column}__in": member_ids}).delete()[0] if model else 0

    return rule


def _model(label: str):
    from django.apps import apps

    try:
        return apps.get_model(label)
    except LookupError:  # an app not installed in this deployment
        return None


def _member_changes(member_ids: list[int], result: ErasureResult) -> int:
    # The profile audit keeps which field changed, when and by whom; the values go.
    return MemberChange.objects.filter(member_id__in=member_ids).update(old_value="", new_value="")


def _receipts(member_ids: list[int], result: ErasureResult) -> int:
    from loyalty.receipts.models import Receipt

    receipts = Receipt.objects.filter(member_id__in=member_ids)
    result.files_deleted.extend(name for name in receipts.exclude(image="").values_list("image", flat=True) if name)
    return receipts.update(image="", ocr_text="", store_text="", reason="")


def _survey_responses(member_ids: list[int], result: ErasureResult) -> int:
    """Free-text answers are blanked; choice answers stay, so survey results stay correct."""
    from loyalty.activity.models import SurveyResponse

    changed = 0
    for response in SurveyResponse.objects.filter(member_id__in=member_ids).select_related("survey"):
        text_keys = {question.get("key") for question in response.survey.questions if question.get("type") != "choice"}
        answers = {key: ("" if key in text_keys else value) for key, value in (response.answers or {}).items()}
        if answers != response.answers:
            SurveyResponse.objects.filter(pk=response.pk).update(answers=answers)
            changed += 1
    return changed


def _phone_verifications(member_ids: list[int], result: ErasureResult) -> int:
    from .otp import PhoneVerification

    deleted, _by_model = PhoneVerification.objects.filter(member_id__in=member_ids).delete()
    return deleted


def _deliveries(member_ids: list[int], result: ErasureResult) -> int:
    """Deliveries keep their status (send statistics); the LINE user id goes."""
    from messaging.models import MessageDelivery, OutboundMessage

    deliveries = MessageDelivery.objects.filter(member_id__in=member_ids)
    line_user_ids = set(deliveries.exclude(line_user_id="").values_list("line_user_id", flat=True))
    message_ids = set(deliveries.values_list("message_id", flat=True))
    for message in OutboundMessage.objects.filter(pk__in=message_ids).only("pk", "kind", "recipients", "status"):
        remaining = [recipient for recipient in message.recipients if recipient not in line_user_ids]
        changes = {"recipients": remaining}
        if not remaining:  # addressed to this member only: what it said was about them
            changes["messages"] = []
            changes["reply_token"] = ""
            if message.status == OutboundMessage.Status.PENDING:
                changes["status"] = OutboundMessage.Status.SKIPPED
        OutboundMessage.objects.filter(pk=message.pk).update(**changes)
    return deliveries.update(line_user_id="")


def _consent_records(member_ids: list[int], result: ErasureResult) -> int:
    from consent.services import consent_records_anonymise

    total = 0
    for member in Member.objects.filter(pk__in=member_ids):
        total += consent_records_anonymise(member=member, reason=result.reason, staff_user=result.staff_user).records
    return total


RULES: dict[str, Rule] = {
    "members.memberchange": _member_changes,
    "members.phoneverification": _phone_verifications,
    "receipts.receipt": _receipts,
    "orders.pendingorder": _blank("orders.PendingOrder", "member", phone="", email="", line_user_id=""),
    "activity.surveyresponse": _survey_responses,
    "missions.productreview": _blank("missions.ProductReview", "member", text=""),
    "messaging.messagedelivery": _deliveries,
    "consent.consentrecord": _consent_records,
    "segments.membertagging": _delete("segments.MemberTagging", "member"),
}

KEPT = {  # model label → why its rows stay as they are (nothing personal beyond the anonymous link)
    "loyalty.pointaccount": "ledger: balances must keep equalling the sum of entries",
    "loyalty.purchase": "financial record (order id, amounts, branch, time)",
    "loyalty.redemption": "financial record",
    "loyalty.coupon": "financial record (stock, use at a branch)",
    "loyalty.promotionaward": "financial record",
    "loyalty.membertier": "tier state, no personal data",
    "loyalty.tierchange": "tier history, no personal data",
    "loyalty.expiryreminder": "points expiry schedule",
    "loyalty.cashieraction": "cashier audit (amounts, branch, staff)",
    "claims.claimcode": "a used code must stay used",
    "orders.orderimportrow": "import audit (order id, points)",
    "activity.activityaward": "points awarded, linked to the ledger",
    "missions.missionprogress": "campaign progress and prizes",
    "missions.referral": "referral links between member rows (both kept for the referrer's rewards)",
    "draws.drawentry": "tickets bought with points",
    "draws.drawwinner": "prize record of a verifiable draw",
    "leaderboards.standing": "race totals (the name shown comes from the erased member row)",
    "leaderboards.racecontribution": "race totals",
    "leaderboards.raceresult": "prize record",
    "coupon_campaigns.coupongrant": "coupon given by a promotion",
    "broadcasts.broadcastrecipient": "send statistics (status, channel); an erased member is unreachable",
    "segments.memberpurchasemonth": "purchase aggregates derived from the kept purchases",
    "segments.memberstats": "statistics derived from the kept purchases and ledger",
    "analytics.memberdayfact": "dashboard facts derived from the kept purchases and ledger",
    "consent.personaldataaccess": "the audit of this very erasure",
    "consent.consentanonymisation": "the audit of the consent-log anonymisation",
}


def erasure_rules_missing() -> list[str]:
    """Models pointing at members that neither ``RULES`` nor ``KEPT`` covers (should be empty)."""
    return [model._meta.label_lower for model, _names in personal_models()
            if model._meta.label_lower not in RULES and model._meta.label_lower not in KEPT]


# --- the member row, the login, LINE ----------------------------------------------------------------

ANONYMOUS = {"first_name": "", "last_name": "", "display_name": "", "phone": None, "email": "", "birth_date": None,
             "gender": "", "line_user_id": None, "custom_fields": {}, "user": None, "line_reachable": False,
             "line_followed_at": None, "line_unfollowed_at": None}


def _forget_login(user_ids: list[int]) -> int:
    """Delete the LINE social accounts and e-mail addresses, rename and disable the users."""
    from allauth.account.models import EmailAddress
    from allauth.socialaccount.models import SocialAccount

    SocialAccount.objects.filter(user_id__in=user_ids).delete()
    EmailAddress.objects.filter(user_id__in=user_ids).delete()
    User = get_user_model()
    for user in User.objects.filter(pk__in=user_ids):
        user.username = f"erased-{user.pk}-{secrets.token_hex(6)}"
        user.first_name = user.last_name = user.email = ""
        user.is_active = False
        user.set_unusable_password()
        user.save()
    return len(user_ids)


def _forget_line_events(brand_id: int, line_user_ids: list[str]) -> int:
    from messaging.models import LineWebhookEvent

    if not line_user_ids:
        return 0
    # Events still waiting to be processed are left for the worker (a follow then starts a new member).
    events = LineWebhookEvent.objects.filter(brand_id=brand_id, line_user_id__in=line_user_ids).exclude(
        status=LineWebhookEvent.Status.RECEIVED)
    return events.update(line_user_id="", payload={"erased": True})


def _unique_code(brand_id: int) -> str:
    while True:
        code = generate_member_code()
        if not Member.objects.filter(brand_id=brand_id, code=code).exists():
            return code


def member_erase(*, member: Member, reason: str, staff_user=None, by_member: bool = False,
                 ip: str | None = None) -> ErasureResult:
    """Erase ``member`` (and members merged into them); see the module docstring for what changes.

    Staff must give a reason (``consent.errors.DataAccessReasonRequired``); a member erasing
    their own account from the portal (``by_member=True``) gives theirs in the form. Locks
    the member rows (primary-key order); raises ``MemberAlreadyErased`` when an erasure was
    already recorded, and ``ErasureRuleMissing`` (nothing written) when a model pointing at
    members has no rule. Deletes receipt images after commit.
    """
    from consent.models import PersonalDataAccess
    from consent.services import personal_data_access_record

    missing = erasure_rules_missing()
    if missing:
        raise ErasureRuleMissing(", ".join(missing))
    channel = PersonalDataAccess.Channel.MEMBER if by_member else PersonalDataAccess.Channel.STAFF
    reason = reason.strip() or (str(_("Erasure requested by the member")) if by_member else "")
    with transaction.atomic():
        members = list(Member.objects.select_for_update().filter(Q(pk=member.pk) | Q(merged_into_id=member.pk))
                       .order_by("pk"))
        if PersonalDataAccess.objects.filter(member_id=member.pk,
                                             action=PersonalDataAccess.Action.ERASURE).exists():
            raise MemberAlreadyErased()
        personal_data_access_record(member=member, action=PersonalDataAccess.Action.ERASURE, channel=channel,
                                    staff_user=staff_user, reason=reason, ip=None if by_member else ip)
        member_ids = [row.pk for row in members]
        result = ErasureResult(member_id=member.pk, reason=reason, staff_user=staff_user)
        for label, rule in RULES.items():
            result.counts[label] = rule(member_ids, result)
        line_user_ids = [row.line_user_id for row in members if row.line_user_id]
        user_ids = [row.user_id for row in members if row.user_id]
        for row in members:
            status = Member.Status.MERGED if row.pk != member.pk else Member.Status.SUSPENDED
            Member.objects.filter(pk=row.pk).update(**ANONYMOUS, code=_unique_code(row.brand_id), status=status)
        result.counts["users"] = _forget_login(user_ids)
        result.counts["line_events"] = _forget_line_events(member.brand_id, line_user_ids)
        files = list(result.files_deleted)
        transaction.on_commit(lambda: _delete_files(files))
    member.refresh_from_db()
    return result


def _delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:  # already gone, or storage down: logged, the row no longer names it anyway
            logger.warning("erasure: could not delete %s", name)

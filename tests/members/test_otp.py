"""Phone verification by SMS code: sending, rate limits, checking, expiry, locking, binding to the phone.

SMS go through the locmem backend; time moves with time-machine.
"""

import io
import re
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from config.domain import ValidationFailed
from members import sms
from members.errors import InvalidPhone
from members.otp import (
    MAX_ATTEMPTS,
    OtpExpired,
    OtpInvalid,
    OtpLocked,
    OtpNotFound,
    OtpNotVerified,
    OtpTooManyRequests,
    PhoneVerification,
    code_digest,
    phone_verification_check,
    phone_verification_get_verified,
    phone_verification_start,
    phone_verifications_purge,
)
from tests import factories

pytestmark = pytest.mark.django_db

PHONE = "+66812345678"
SMS_PATTERN = re.compile(r"^รหัสยืนยัน Taem: (\d{6}) \(ใช้ได้ 5 นาที\) / Your Taem code: (\d{6})$")


@pytest.fixture(autouse=True)
def outbox(settings):
    settings.SMS_BACKEND = "members.sms.LocmemBackend"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


@pytest.fixture
def clock(time_machine):
    time_machine.move_to("2026-05-01 09:00 +07:00", tick=False)
    return time_machine


@pytest.fixture
def start(django_capture_on_commit_callbacks):
    """Start a verification and deliver its SMS (after commit); returns (verification, code)."""

    def start(*, brand, member=None, phone=PHONE):
        with django_capture_on_commit_callbacks(execute=True):
            verification = phone_verification_start(brand=brand, member=member, phone=phone)
        return verification, sent_code(verification.phone)

    return start


def sent_code(phone: str) -> str:
    to, text = sms.outbox[-1]
    assert to == phone
    match = SMS_PATTERN.match(text)
    assert match, text
    assert match.group(1) == match.group(2)
    return match.group(1)


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# --- sending ---------------------------------------------------------------------------------------------


def test_a_code_is_sent_in_thai_and_english_to_the_normalised_phone(brand, member, start, outbox):
    verification, code = start(brand=brand, member=member, phone="081-234-5678")
    assert verification.phone == PHONE
    assert (verification.brand, verification.member, verification.attempts, verification.verified_at) == (
        brand, member, 0, None)
    assert outbox == [(PHONE, f"รหัสยืนยัน Taem: {code} (ใช้ได้ 5 นาที) / Your Taem code: {code}")]
    assert verification.expires_at - verification.created_at == timedelta(minutes=5)


def test_only_a_keyed_digest_of_the_code_is_stored(brand, start):
    verification, code = start(brand=brand)
    stored = PhoneVerification.objects.get(pk=verification.pk)
    assert code not in stored.code_digest
    assert stored.code_digest == code_digest(brand_id=brand.pk, phone=PHONE, code=code)
    assert len(stored.code_digest) == 64


def test_the_sms_leaves_only_after_commit(brand, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        phone_verification_start(brand=brand, phone=PHONE)
    assert outbox == []
    assert len(callbacks) == 1


def test_an_invalid_phone_gets_no_code(brand, outbox, django_capture_on_commit_callbacks):
    with pytest.raises(InvalidPhone), django_capture_on_commit_callbacks(execute=True):
        phone_verification_start(brand=brand, phone="12345")
    assert outbox == [] and not PhoneVerification.objects.exists()


def test_a_member_of_another_brand_gets_no_code(brand, other_brand, outbox):
    stranger = factories.MemberFactory(brand=other_brand)
    with pytest.raises(ValidationFailed) as raised:
        phone_verification_start(brand=brand, member=stranger, phone=PHONE)
    assert "member" in raised.value.fields
    assert not PhoneVerification.objects.exists()


# --- rate limits -----------------------------------------------------------------------------------------


def test_a_new_code_for_the_same_phone_waits_60_seconds(brand, start, clock):
    start(brand=brand)
    clock.shift(timedelta(seconds=45))
    with pytest.raises(OtpTooManyRequests) as raised:
        start(brand=brand)
    assert raised.value.code == "otp_rate_limited"
    assert raised.value.context["retry_after"] == 15
    clock.shift(timedelta(seconds=15))
    start(brand=brand)
    assert PhoneVerification.objects.count() == 2


def test_at_most_five_codes_per_phone_per_hour(brand, start, clock, outbox):
    for _ in range(5):
        start(brand=brand)
        clock.shift(timedelta(minutes=2))
    with pytest.raises(OtpTooManyRequests) as raised:
        start(brand=brand)
    assert raised.value.context["retry_after"] == 50 * 60  # the first code leaves the hour window at 10:00
    assert len(outbox) == 5
    clock.shift(timedelta(minutes=50))
    start(brand=brand)
    assert len(outbox) == 6


def test_the_limit_is_per_phone_across_brands(brand, other_brand, start):
    start(brand=brand)
    start(brand=brand, phone="+66812345679")
    with pytest.raises(OtpTooManyRequests):
        start(brand=other_brand)


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_for_one_phone_send_one_code(outbox):
    brand = factories.brand_with_program()
    barrier = threading.Barrier(4)
    outcomes = []

    def request_code():
        try:
            barrier.wait(timeout=5)
            phone_verification_start(brand=brand, phone=PHONE)
            outcomes.append("sent")
        except OtpTooManyRequests:
            outcomes.append("limited")
        finally:
            connection.close()

    threads = [threading.Thread(target=request_code, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(outcomes) == ["limited", "limited", "limited", "sent"]
    assert PhoneVerification.objects.count() == 1
    assert len(outbox) == 1


# --- checking --------------------------------------------------------------------------------------------


def test_the_right_code_verifies_once(brand, member, start, clock):
    verification, code = start(brand=brand, member=member)
    checked = phone_verification_check(verification_id=verification.pk, code=code)
    first = PhoneVerification.objects.get(pk=verification.pk).verified_at
    assert checked.verified_at == first == timezone.now()
    clock.shift(timedelta(minutes=10))  # a double submit, even after expiry
    again = phone_verification_check(verification_id=verification.pk, code=f" {code[:3]} {code[3:]} ")
    assert again.verified_at == first
    assert PhoneVerification.objects.get(pk=verification.pk).verified_at == first


def test_the_latest_code_is_found_by_brand_member_and_phone(brand, member, start, clock):
    start(brand=brand, member=member)
    clock.shift(timedelta(seconds=61))
    latest, code = start(brand=brand, member=member, phone="0812345678")
    checked = phone_verification_check(brand=brand, member=member, phone="081 234 5678", code=code)
    assert checked.pk == latest.pk and checked.verified_at is not None


def test_a_wrong_code_is_refused_and_counted(brand, start):
    verification, code = start(brand=brand)
    with pytest.raises(OtpInvalid) as raised:
        phone_verification_check(verification_id=verification.pk, code=other_code(code))
    assert raised.value.code == "otp_invalid"
    assert raised.value.context["attempts_left"] == MAX_ATTEMPTS - 1
    assert "code" in raised.value.fields
    assert PhoneVerification.objects.get(pk=verification.pk).attempts == 1
    assert PhoneVerification.objects.get(pk=verification.pk).verified_at is None


def test_five_wrong_codes_lock_it_even_for_the_right_code(brand, start):
    verification, code = start(brand=brand)
    for attempt in range(1, MAX_ATTEMPTS):
        with pytest.raises(OtpInvalid) as raised:
            phone_verification_check(verification_id=verification.pk, code=other_code(code))
        assert raised.value.context["attempts_left"] == MAX_ATTEMPTS - attempt
    with pytest.raises(OtpLocked) as raised:
        phone_verification_check(verification_id=verification.pk, code="not a code")
    assert raised.value.code == "otp_locked"
    with pytest.raises(OtpLocked):
        phone_verification_check(verification_id=verification.pk, code=code)
    stored = PhoneVerification.objects.get(pk=verification.pk)
    assert (stored.attempts, stored.verified_at) == (MAX_ATTEMPTS, None)


def test_a_code_expires_after_five_minutes(brand, start, clock):
    verification, code = start(brand=brand)
    clock.shift(timedelta(minutes=5))
    with pytest.raises(OtpExpired) as raised:
        phone_verification_check(verification_id=verification.pk, code=code)
    assert raised.value.code == "otp_expired"
    assert PhoneVerification.objects.get(pk=verification.pk).verified_at is None


def test_a_code_still_works_just_before_it_expires(brand, start, clock):
    verification, code = start(brand=brand)
    clock.shift(timedelta(minutes=5) - timedelta(seconds=1))
    assert phone_verification_check(verification_id=verification.pk, code=code).verified_at is not None


def test_a_code_is_bound_to_its_brand_member_and_phone(brand, other_brand, member, start):
    verification, code = start(brand=brand, member=member)
    stranger = factories.MemberFactory(brand=brand)
    for mismatch in ({"brand": other_brand}, {"member": stranger}, {"phone": "+66812345679"}):
        with pytest.raises(OtpNotFound):
            phone_verification_check(verification_id=verification.pk, code=code, **mismatch)
    with pytest.raises(OtpNotFound):
        phone_verification_check(brand=brand, member=member, phone="+66812345679", code=code)
    with pytest.raises(OtpNotFound):
        phone_verification_check(brand=brand, phone=PHONE, code=code)  # sent for a member, asked without
    assert PhoneVerification.objects.get(pk=verification.pk).attempts == 0


def test_checking_without_an_id_or_a_phone_finds_nothing(brand):
    with pytest.raises(OtpNotFound):
        phone_verification_check(brand=brand, code="123456")
    with pytest.raises(OtpNotFound):
        phone_verification_check(verification_id=123_456_789, code="123456")


# --- using a verified phone ------------------------------------------------------------------------------


def test_a_verified_code_vouches_only_for_its_own_phone(brand, member, start):
    verification, code = start(brand=brand, member=member)
    with pytest.raises(OtpNotVerified):
        phone_verification_get_verified(verification_id=verification.pk, brand=brand, phone=PHONE)
    phone_verification_check(verification_id=verification.pk, code=code)
    assert phone_verification_get_verified(verification_id=verification.pk, brand=brand, member=member,
                                           phone="081 234 5678") == verification
    for other in ({"phone": "+66812345679"}, {"brand": factories.brand_with_program(slug="x")},
                  {"member": factories.MemberFactory(brand=brand)}):
        with pytest.raises(OtpNotVerified) as raised:
            phone_verification_get_verified(**{"verification_id": verification.pk, "brand": brand,
                                               "phone": PHONE, **other})
        assert raised.value.code == "otp_not_verified"


def test_a_verification_is_not_accepted_long_after(brand, start, clock):
    verification, code = start(brand=brand)
    phone_verification_check(verification_id=verification.pk, code=code)
    clock.shift(timedelta(minutes=31))
    with pytest.raises(OtpNotVerified):
        phone_verification_get_verified(verification_id=verification.pk, brand=brand, phone=PHONE)


def test_old_verifications_are_purged(brand, start, clock):
    start(brand=brand)
    clock.shift(timedelta(days=2))
    recent, _code = start(brand=brand)
    assert phone_verifications_purge(before=timezone.now() - timedelta(days=1)) == 1
    assert list(PhoneVerification.objects.all()) == [recent]


# --- SMS backends ----------------------------------------------------------------------------------------


def test_console_backend_writes_the_whole_message(settings, capsys):
    settings.SMS_BACKEND = "members.sms.ConsoleBackend"
    sms.sms_send(phone=PHONE, text="รหัสยืนยัน Taem: 123456")
    assert capsys.readouterr().out == f"SMS to {PHONE}: รหัสยืนยัน Taem: 123456\n"
    stream = io.StringIO()
    sms.ConsoleBackend(stream=stream).send(phone=PHONE, text="hello")
    assert stream.getvalue() == f"SMS to {PHONE}: hello\n"


def test_console_backend_is_the_default(settings):
    del settings.SMS_BACKEND
    assert type(sms.sms_backend()) is sms.ConsoleBackend


def test_no_code_reaches_the_logs(brand, start, caplog):
    caplog.set_level("DEBUG")
    _verification, code = start(brand=brand)
    assert code not in caplog.text

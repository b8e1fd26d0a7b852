"""The member's claim page with the Django test client."""

import uuid
from urllib.parse import urlsplit

from django.utils import translation

from loyalty.claims.errors import ClaimCodeInvalid
from loyalty.claims.selectors import claim_url
from loyalty.claims.services import claim_code_redeem
from loyalty.models import LedgerEntry, PointAccount
from loyalty.services.verification import ledger_mismatches
from members.models import MEMBER_CODE_ALPHABET, Member
from tests import factories


def claim_path(brand) -> str:
    return f"/liff/{brand.slug}/claim/"


def post_claim(client, brand, code, request_id=None):
    return client.post(claim_path(brand), {"code": code, "request_id": request_id or str(uuid.uuid4())})


def test_without_a_session_the_page_signs_in_with_liff_and_keeps_the_code(client, portal_brand):
    response = client.get(f"{claim_path(portal_brand)}?code=ABCD-EFGH-JKLM-NPQR")
    assert response.status_code == 200
    assert b'data-authenticated="0"' in response.content and b"claim-form" not in response.content


def test_a_scanned_label_url_opens_the_form_filled_in_but_claims_nothing(client, active_member, portal_brand,
                                                                         make_batch):
    batch, codes = make_batch(portal_brand)
    url = urlsplit(claim_url(batch=batch, code=codes[0]))
    response = client.get(f"{url.path}?{url.query}")
    html = response.content.decode()
    assert response.status_code == 200
    assert f'value="{codes[0]}"' in html
    # The bundled scanner's DOM contract (liff_frontend/static_src/cashier/index.js).
    assert 'data-target="#claim-form"' in html and 'id="scanner"' in html and 'name="code"' in html
    assert "dist/cashier.js" in html and "dist/portal.js" in html
    assert not LedgerEntry.objects.exists()


def test_a_member_claims_a_typed_code_and_sees_the_points(client, active_member, portal_brand, make_batch):
    _batch, codes = make_batch(portal_brand, name="Cold brew can", points=15)
    response = post_claim(client, portal_brand, codes[1].lower().replace("-", " "))
    assert response.status_code == 302
    entry = LedgerEntry.objects.get()
    assert response["Location"] == f"{claim_path(portal_brand)}?claimed={entry.pk}"

    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200 and 'data-testid="claim-success"' in html
    assert "Claimed!" in html and "+15" in html and "Cold brew can" in html
    assert 'data-testid="claim-balance">15<' in html
    assert "My recent claims" in html
    assert PointAccount.objects.get(member=active_member).balance == 15
    assert ledger_mismatches() == []


def test_a_double_tap_claims_once_and_both_answers_show_the_same_claim(client, active_member, portal_brand,
                                                                       make_batch):
    _batch, codes = make_batch(portal_brand)
    request_id = str(uuid.uuid4())
    first = post_claim(client, portal_brand, codes[0], request_id)
    second = post_claim(client, portal_brand, codes[0], request_id)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert LedgerEntry.objects.count() == 1


def test_the_scanner_fills_the_whole_label_url_into_the_form_and_it_is_claimed(client, active_member, portal_brand,
                                                                              make_batch):
    batch, codes = make_batch(portal_brand)
    response = post_claim(client, portal_brand, claim_url(batch=batch, code=codes[3]))
    assert response.status_code == 302
    assert LedgerEntry.objects.get().amount == 10


def test_errors_are_shown_in_the_members_language_with_the_code_kept(client, active_member, portal_brand,
                                                                     make_batch):
    make_batch(portal_brand)
    response = post_claim(client, portal_brand, "ABCD-EFGH-JKLM-NPQR")
    html = response.content.decode()
    assert response.status_code == 422 and 'data-code="claim_code_invalid"' in html
    assert "This code is not valid. Check it and try again." in html
    assert 'value="ABCD-EFGH-JKLM-NPQR"' in html

    Member.objects.filter(pk=active_member.pk).update(language="th")
    response = post_claim(client, portal_brand, "ABCD-EFGH-JKLM-NPQS")
    html = response.content.decode()
    with translation.override("th"):
        expected = str(ClaimCodeInvalid.message)
    assert response.status_code == 422 and '<html lang="th">' in html and expected in html


def test_another_members_used_code_says_used_and_shows_the_code_out_of_the_scanned_url(client, active_member,
                                                                                       portal_brand, make_batch):
    batch, codes = make_batch(portal_brand)
    claim_code_redeem(member=factories.MemberFactory(brand=portal_brand), code=codes[0])
    response = post_claim(client, portal_brand, claim_url(batch=batch, code=codes[0].lower()))
    html = response.content.decode()
    assert response.status_code == 422 and 'data-code="claim_code_used"' in html
    assert f'value="{codes[0]}"' in html


def test_after_ten_wrong_codes_the_page_says_when_to_try_again(client, active_member, portal_brand, make_batch):
    _batch, codes = make_batch(portal_brand)
    for attempt in range(10):
        post_claim(client, portal_brand, f"ABCD-EFGH-JKLM-NPQ{MEMBER_CODE_ALPHABET[attempt]}")
    response = post_claim(client, portal_brand, codes[0])
    html = response.content.decode()
    assert response.status_code == 422 and 'data-code="claim_rate_limited"' in html
    assert "You can try again after" in html
    assert not LedgerEntry.objects.exists()


def test_a_form_without_its_token_claims_nothing(client, active_member, portal_brand, make_batch):
    _batch, codes = make_batch(portal_brand)
    response = client.post(claim_path(portal_brand), {"code": codes[0], "request_id": "not-a-uuid"})
    assert response.status_code == 422 and "Please try again." in response.content.decode()
    assert not LedgerEntry.objects.exists()


def test_another_members_claim_is_never_shown(client, active_member, portal_brand, make_batch):
    _batch, codes = make_batch(portal_brand, name="Secret batch")
    entry = claim_code_redeem(member=factories.MemberFactory(brand=portal_brand), code=codes[0])
    response = client.get(f"{claim_path(portal_brand)}?claimed={entry.pk}")
    assert response.status_code == 200 and "claim-success" not in response.content.decode()
    assert "Secret batch" not in response.content.decode()


def test_the_page_costs_the_same_queries_with_one_claim_or_five(client, active_member, portal_brand, make_batch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _batch, codes = make_batch(portal_brand)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(claim_path(portal_brand)).status_code == 200
        return len(captured)

    claim_code_redeem(member=active_member, code=codes[0])
    one = queries()
    for code in codes[1:]:
        claim_code_redeem(member=active_member, code=code)
    assert queries() == one

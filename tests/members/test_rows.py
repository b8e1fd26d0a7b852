"""config.rows: the hot path's reads build the same instances the ORM would."""

from members.api.authentication import KEY_BY_DIGEST
from members.models import ApiKey, Branch
from members.selectors import member_and_branch, member_find
from tests import factories


def test_a_member_read_through_rows_is_the_orms_member_with_its_json_decoded(member):
    member.custom_fields = {"size": "L", "likes": ["latte"]}
    member.save()
    found = member_find(brand=member.brand, code=member.code.lower())
    assert found == member and not found._state.adding
    assert found.custom_fields == {"size": "L", "likes": ["latte"]}
    assert found.get_deferred_fields() == set()


def test_the_key_comes_with_its_brand_whose_secrets_load_only_when_read(member):
    brand = member.brand
    brand.line_channel_secret = "channel-secret-1"
    brand.save()
    _key, raw = factories.api_key(brand=brand)
    key = KEY_BY_DIGEST.first([ApiKey.digest(raw)])
    assert key.brand == brand and key.branch is None
    assert {"line_channel_secret", "line_channel_access_token"} <= key.brand.get_deferred_fields()
    assert key.brand.line_channel_secret == "channel-secret-1"  # loaded, decrypted, on first access
    assert KEY_BY_DIGEST.first([ApiKey.digest(raw + "x")]) is None


def test_member_and_branch_answers_what_it_found(member):
    brand = member.brand
    main = Branch.objects.get(brand=brand, code="MAIN")
    Branch.objects.create(brand=brand, code="SHUT", name="ปิด", is_active=False)
    assert member_and_branch(brand=brand, branch_code="MAIN", code=member.code) == (member, main)
    assert member_and_branch(brand=brand, branch_code="SHUT", code=member.code) == (member, None)
    assert member_and_branch(brand=brand, branch_code="MAIN", code="NOSUCH") == (None, None)
    other = factories.brand_with_program(slug="other", name="Other")
    assert member_and_branch(brand=other, branch_code="MAIN", code=member.code) == (None, None)

"""Tags: CSV import (good file, unknown rows, malformed files), from a segment, brand checks."""

import pytest

from campaigns.segments.errors import TagImportMalformed
from campaigns.segments.models import MemberTag, MemberTagging, Segment
from campaigns.segments.services import member_tags_from_segment, member_tags_import_csv
from tests import factories


@pytest.fixture
def vip(brand):
    return MemberTag.objects.create(brand=brand, name="VIP")


def tagged(tag):
    return sorted(MemberTagging.objects.filter(tag=tag).values_list("member__first_name", flat=True))


def test_csv_of_codes_and_phones_tags_each_member_once(brand, people, vip):
    staff = factories.staff_user(brands=[brand])
    MemberTagging.objects.create(tag=vip, member=people["dan"])
    data = b"member\nannaaaaa\n0811111111\n\nDANDDDDD\n+66811111111\n"
    report = member_tags_import_csv(tag=vip, data=data, by=staff)
    assert (report.tagged, report.already, report.unknown) == (2, 1, [])
    assert tagged(vip) == ["Ann", "Dan", "Eve"]
    assert MemberTagging.objects.get(tag=vip, member=people["ann"]).by == staff


def test_unknown_rows_are_reported_with_their_line_and_the_rest_tagged(brand, other_brand, people, vip):
    outsider = factories.MemberFactory(brand=other_brand, code="OUTZZZZZ")
    data = f"BEEBBBBB\nNOPE2345\n{outsider.code}\n0800000000\n012\n".encode()
    report = member_tags_import_csv(tag=vip, data=data)
    assert report.tagged == 1
    assert report.unknown == [(2, "NOPE2345"), (3, "OUTZZZZZ"), (4, "0800000000"), (5, "012")]
    assert tagged(vip) == ["Bee"]


@pytest.mark.parametrize(("data", "message"), [
    (b"ANNAAAAA\n\xff\xfe\x00A\n", "The file is not UTF-8 text."),
    (b"ANNAAAAA\nBEEBBBBB,CATCCCCC\n", "Line 2 has more than one value: one member code or phone number per line."),
    (b"member\n\n", "The file has no member codes or phone numbers."),
    (b"ANNAAAAA\n\"" + b"A" * 200_000 + b"\"\n", "The file is not valid CSV."),
])
def test_a_malformed_file_tags_nobody(brand, people, vip, data, message):
    with pytest.raises(TagImportMalformed) as error:
        member_tags_import_csv(tag=vip, data=data)
    assert error.value.fields == {"file": [message]}
    assert tagged(vip) == []


def test_tag_the_members_of_a_segment(brand, other_brand, people, vip):
    segment = Segment.objects.create(brand=brand, name="June birthdays",
                                     definition={"conditions": [{"type": "birth_month", "months": [6]}]})
    MemberTagging.objects.create(tag=vip, member=people["dan"])
    assert member_tags_from_segment(tag=vip, segment=segment) == 1
    assert tagged(vip) == ["Ann", "Dan"]
    foreign = Segment.objects.create(brand=other_brand, name="All")
    with pytest.raises(Exception, match="another brand"):
        member_tags_from_segment(tag=vip, segment=foreign)

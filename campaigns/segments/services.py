"""Evaluating segments and tagging members (issue 9).

Contract used by broadcasts and other campaigns:
``segment_members(segment, *, at=None) -> QuerySet[Member]``: the segment's members at
``at`` (default now; it dates "the last N days" and ages), brand-scoped, merged members
never included, evaluated when the queryset runs. A stored definition that no longer
validates (a tag or reward deleted since) raises ``SegmentDefinitionInvalid``.
"""

import csv
import io
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from members.errors import InvalidPhone
from members.models import Brand, Member
from members.services import phone_normalise

from .conditions import Context
from .definition import definition_clean, definition_q
from .errors import SegmentDefinitionInvalid, TagImportMalformed
from .models import MemberTag, MemberTagging, Segment

SAMPLE_SIZE = 20
# Enough memory for PostgreSQL to hash a subquery of a million member ids (an IN / NOT IN under
# OR is then one hash probe per member instead of a rescan); set for the counting transaction only.
COUNT_WORK_MEM = "64MB"
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 100_000


def members_matching(*, brand: Brand, definition: dict, at: datetime | None = None) -> QuerySet[Member]:
    """Members of ``brand`` matching a *clean* definition (see ``definition_clean``)."""
    ctx = Context(brand_id=brand.pk, now=at or timezone.now())
    return (Member.objects.filter(brand_id=brand.pk).exclude(status=Member.Status.MERGED)
            .filter(definition_q(definition, ctx)))


@contextmanager
def segment_query_settings():
    """Run segment queries inside this (a transaction with ``work_mem`` raised for it).

    Without it a definition that ORs a large subquery (say, 200,000 buyers of a SKU) may be
    planned as a rescan per member when the member ids do not fit the default 4 MB.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{COUNT_WORK_MEM}'")
        yield


def members_count(members: QuerySet[Member]) -> int:
    with segment_query_settings():
        return members.count()


def segment_members(segment: Segment, *, at=None) -> QuerySet[Member]:
    """Members of the segment's brand matching its definition (an empty definition: all members)."""
    definition = definition_clean(brand=segment.brand, definition=segment.definition)
    return members_matching(brand=segment.brand, definition=definition, at=at)


@dataclass(frozen=True)
class Audience:
    count: int
    sample: list[Member]
    definition: dict


def audience_preview(*, brand: Brand, definition: dict, at: datetime | None = None,
                     sample_size: int = SAMPLE_SIZE) -> Audience:
    """Count and sample a draft definition (validated first: ``SegmentDefinitionInvalid``)."""
    clean = definition_clean(brand=brand, definition=definition)
    members = members_matching(brand=brand, definition=clean, at=at)
    with segment_query_settings():
        return Audience(count=members.count(), sample=list(members.order_by("-pk")[:sample_size]),
                        definition=clean)


def segment_count(*, segment: Segment, at: datetime | None = None) -> int:
    """Count the segment now and remember it (``last_count``, ``counted_at``)."""
    now = at or timezone.now()
    count = members_count(segment_members(segment, at=now))
    Segment.objects.filter(pk=segment.pk).update(last_count=count, counted_at=now)
    segment.last_count, segment.counted_at = count, now
    return count


def segment_save_definition(*, segment: Segment, definition: dict) -> Segment:
    """Validate and store a definition (normalised)."""
    segment.definition = definition_clean(brand=segment.brand, definition=definition)
    segment.save(update_fields=["definition", "updated_at"])
    return segment


# --- tags ------------------------------------------------------------------------------------------


def _insert_taggings(*, tag: MemberTag, members: QuerySet[Member], by, at: datetime) -> int:
    """``INSERT ... SELECT`` the members' taggings (existing ones kept); returns how many were new."""
    sql, params = members.filter(brand_id=tag.brand_id).values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {MemberTagging._meta.db_table} (tag_id, member_id, by_id, at) "  # noqa: S608
            f"SELECT %s, chosen.id, %s, %s FROM ({sql}) AS chosen(id) "
            "ON CONFLICT (tag_id, member_id) DO NOTHING",
            [tag.pk, getattr(by, "pk", None), at, *params])
        return cursor.rowcount


@transaction.atomic
def member_tags_assign(*, tag: MemberTag, members: QuerySet[Member], by=None) -> int:
    """Tag ``members`` (only those of the tag's brand count). Idempotent; returns the new taggings."""
    return _insert_taggings(tag=tag, members=members, by=by, at=timezone.now())


@transaction.atomic
def member_tags_remove(*, tag: MemberTag, members: QuerySet[Member]) -> int:
    deleted, _detail = MemberTagging.objects.filter(tag=tag, member__in=members.values("pk")).delete()
    return deleted


def member_tags_from_segment(*, tag: MemberTag, segment: Segment, by=None) -> int:
    """Tag every current member of the segment (set-based); returns the new taggings."""
    if segment.brand_id != tag.brand_id:
        raise SegmentDefinitionInvalid(_("The segment belongs to another brand."), fields={
            "segment": [_("The segment belongs to another brand.")]})
    with transaction.atomic():
        return _insert_taggings(tag=tag, members=segment_members(segment), by=by, at=timezone.now())


@dataclass
class TagImport:
    tagged: int = 0
    already: int = 0
    unknown: list[tuple[int, str]] = field(default_factory=list)  # (line number, value)


def _import_rows(data: bytes) -> list[tuple[int, str]]:
    """(line, value) of each non-empty row of a one-column CSV; ``TagImportMalformed`` otherwise."""
    if len(data) > MAX_IMPORT_BYTES:
        raise TagImportMalformed(fields={"file": [_("The file is larger than 5 MB.")]})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise TagImportMalformed(fields={"file": [_("The file is not UTF-8 text.")]}) from error
    if "\x00" in text:
        raise TagImportMalformed(fields={"file": [_("The file is not UTF-8 text.")]})
    rows = []
    try:
        for number, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            if len([cell for cell in cells if cell]) > 1:
                raise TagImportMalformed(fields={"file": [
                    _("Line %(line)s has more than one value: one member code or phone number per line.")
                    % {"line": number}]})
            rows.append((number, next(cell for cell in cells if cell)))
            if len(rows) > MAX_IMPORT_ROWS:
                raise TagImportMalformed(fields={"file": [
                    _("At most %(rows)s rows per file.") % {"rows": f"{MAX_IMPORT_ROWS:,}"}]})
    except csv.Error as error:
        raise TagImportMalformed(fields={"file": [_("The file is not valid CSV.")]}) from error
    if rows and rows[0][1].lower() in ("member", "code", "member_code", "phone", "สมาชิก", "รหัสสมาชิก", "เบอร์โทร"):
        rows = rows[1:]  # a header
    if not rows:
        raise TagImportMalformed(fields={"file": [_("The file has no member codes or phone numbers.")]})
    return rows


def member_tags_import_csv(*, tag: MemberTag, data: bytes, by=None) -> TagImport:
    """Tag the members named in a CSV (one member code or phone number per line, optional header).

    A malformed file (not UTF-8 CSV, several values on a line, empty, too large) raises
    ``TagImportMalformed`` and tags nobody. Rows naming no member of the tag's brand are
    reported back with their line numbers; the others are tagged in one transaction.
    """
    rows = _import_rows(data)
    codes, phones, by_value = set(), set(), {}
    for number, value in rows:
        if value.startswith(("0", "+")):  # member codes never hold a 0; phone numbers start with 0 or +
            try:
                key = ("phone", phone_normalise(value))
            except InvalidPhone:
                key = ("phone", None)
            phones.add(key[1])
        else:
            key = ("code", value.upper())
            codes.add(key[1])
        by_value[number] = key
    members = Member.objects.filter(brand_id=tag.brand_id).exclude(status=Member.Status.MERGED)
    found = {("code", code): pk for code, pk in members.filter(code__in=codes).values_list("code", "pk")}
    found.update({("phone", phone): pk for phone, pk in members.filter(phone__in=phones - {None}).values_list("phone", "pk")})
    result = TagImport(unknown=[(number, value) for number, value in rows if by_value[number] not in found])
    member_ids = {found[key] for key in by_value.values() if key in found}
    with transaction.atomic():
        result.tagged = _insert_taggings(tag=tag, members=Member.objects.filter(pk__in=member_ids), by=by,
                                         at=timezone.now())
    result.already = len(member_ids) - result.tagged
    return result

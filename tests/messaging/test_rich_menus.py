"""Rich menus per member state: created through the API with an image, linked as state changes."""

import io

from django.core.management import call_command
from PIL import Image

from members.models import Member
from messaging import line_events
from messaging.models import RichMenu
from messaging.rich_menus import menu_image, rich_menu_link_member, rich_menus_sync


def test_sync_creates_each_menu_with_its_image_and_sets_the_unregistered_default(line_brand, fake_line):
    menus = {menu.key: menu for menu in rich_menus_sync(brand=line_brand)}
    assert set(menus) == {"unregistered", "member"}
    on_line = fake_line.rich_menus()
    for menu in menus.values():
        assert menu.line_rich_menu_id in on_line["menus"]
    assert on_line["default"] == menus["unregistered"].line_rich_menu_id
    uploads = fake_line.requests(f"/v2/bot/richmenu/{menus['member'].line_rich_menu_id}/content")
    assert uploads and uploads[0]["headers"]["content-type"] == "image/png"
    assert fake_line.requests(f"/v2/bot/user/all/richmenu/{menus['unregistered'].line_rich_menu_id}")


def test_sync_again_with_the_same_definition_creates_nothing(line_brand, fake_line):
    first = {menu.key: menu.line_rich_menu_id for menu in rich_menus_sync(brand=line_brand)}
    created = len(fake_line.requests("/v2/bot/richmenu"))
    call_command("sync_rich_menus", brand=line_brand.slug)
    assert {menu.key: menu.line_rich_menu_id for menu in RichMenu.objects.all()} == first
    assert len(fake_line.requests("/v2/bot/richmenu")) == created


def test_menu_image_is_a_png_line_accepts():
    from members.models import Brand

    data = menu_image(Brand(slug="x", name="x"), "member")
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.size) == ("PNG", (2500, 843))
    assert len(data) < 1024 * 1024


def test_follow_links_the_unregistered_menu_and_registration_the_member_menu(webhook, line_brand, fake_line):
    menus = {menu.key: menu.line_rich_menu_id for menu in rich_menus_sync(brand=line_brand)}
    user = "U" + "e" * 32
    webhook.post([line_events.follow(user, webhook.reply_token(user))])
    assert fake_line.user_rich_menu(user) == menus["unregistered"]
    member = Member.objects.get(line_user_id=user)
    Member.objects.filter(pk=member.pk).update(status=Member.Status.ACTIVE)
    assert rich_menu_link_member(member_id=member.pk) == menus["member"]
    assert fake_line.user_rich_menu(user) == menus["member"]


def test_a_blocked_member_is_not_linked(line_member, line_brand, fake_line):
    rich_menus_sync(brand=line_brand)
    Member.objects.filter(pk=line_member.pk).update(line_reachable=False)
    assert rich_menu_link_member(member_id=line_member.pk) is None
    assert fake_line.user_rich_menu(line_member.line_user_id) is None

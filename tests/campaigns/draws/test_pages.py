"""The portal's lucky-draw pages with the Django test client (the browser test is in tests/browser)."""

import re
import uuid

import pytest

from campaigns.draws.models import DrawEntry
from campaigns.draws.services import draw_run, draw_tickets_grant
from loyalty.models import PointAccount
from loyalty.services.verification import ledger_mismatches
from tests import factories
from tests.campaigns.draws.conftest import make_draw
from tests.liff.conftest import _sms_locmem, active_member, consents, portal_brand  # noqa: F401 - portal fixtures


@pytest.fixture
def player(active_member):  # noqa: F811 - the portal fixture
    factories.give_points(active_member, 250, key="test:player")
    return active_member


def test_the_list_shows_open_draws_and_my_tickets(client, portal_brand, player):  # noqa: F811
    draw = make_draw(portal_brand, prizes=[("ทอง", "Gold", 1, None, 1000)])
    make_draw(portal_brand, open_now=False)  # a draft is not shown
    draw_tickets_grant(draw=draw, member=player, tickets=2, key="mission:1")
    page = client.get("/liff/cafe/draws/").content.decode()
    assert page.count('data-testid="draw-') == 2  # the card and its ticket badge
    assert "New Year lucky draw" in page and "My tickets: 2" in page


def test_buying_on_the_draw_page_and_the_seed_after_the_draw(client, portal_brand, player):  # noqa: F811
    draw = make_draw(portal_brand, max_tickets=5, prizes=[("ทอง", "Gold", 1, None, 1000)])
    url = f"/liff/cafe/draws/{draw.pk}/"
    page = client.get(url).content.decode()
    assert draw.seed_hash in page and "The seed is revealed after the draw." in page
    assert "Tickets you can still buy: 5" in page and "You have 250 points." in page

    request_id = str(uuid.uuid4())
    response = client.post(url, {"request_id": request_id, "tickets": "2"})
    assert response.status_code == 302 and response["Location"] == f"{url}?bought=2"
    assert client.post(url, {"request_id": request_id, "tickets": "2"}).status_code == 302  # a resent form
    assert DrawEntry.objects.get(member=player).tickets == 2
    assert PointAccount.objects.get(member=player).balance == 50

    response = client.post(url, {"request_id": str(uuid.uuid4()), "tickets": "1"})
    assert response.status_code == 422 and "Not enough points." in response.content.decode()

    draw_run(draw_id=draw.pk, now=draw.draw_at)
    draw.refresh_from_db()
    page = client.get(url).content.decode()
    assert draw.revealed_seed in page and draw.seed_hash in page
    assert "You won: Gold!" in page
    assert re.search(r'data-testid="winner-1"><span>N\*\*\* <strong>', page)  # "Nok Dee": one letter, no initial
    assert ledger_mismatches() == []


def test_another_brands_draw_is_not_found(client, portal_brand, player, other_brand):  # noqa: F811
    draw = make_draw(other_brand)
    assert client.get(f"/liff/cafe/draws/{draw.pk}/").status_code == 404

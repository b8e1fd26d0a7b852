from loyalty.orders.demo import demo_orders_seed
from loyalty.orders.models import ShopIntegration
from members.demo import derived_secret
from tests.orders.conftest import paid, post_event


def test_the_demo_shops_seed_once_with_a_stable_secret(client, brand):
    first = demo_orders_seed(brand=brand, derived_secret=derived_secret)
    assert demo_orders_seed(brand=brand, derived_secret=derived_secret) == first
    assert ShopIntegration.objects.filter(brand=brand).count() == 2
    webshop = ShopIntegration.objects.get(pk=first["webshop_integration_id"])
    assert webshop.secret == first["webshop_secret"]
    assert post_event(client, webshop, paid(phone="0891234567")).status_code == 201

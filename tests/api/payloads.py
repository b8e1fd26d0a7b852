"""Request bodies shared by the API tests."""

from datetime import timedelta

from django.utils import timezone


def purchase_body(member, order_id="POS-1", total="1000.00", **extra) -> dict:
    """A POS purchase for ``member`` an hour ago at branch MAIN; ``key=None`` in ``extra`` drops a key."""
    body = {
        "order_id": order_id,
        "member": {"code": member.code},
        "total": total,
        "lines": [{"sku": "LATTE", "category": "coffee", "quantity": 1, "amount": total}],
        "purchased_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "branch": "MAIN",
    }
    body.update(extra)
    return {key: value for key, value in body.items() if value is not None}

"""Input and output shapes of the public v1 API. Inputs only validate; services write."""

from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from loyalty.models import Coupon, LedgerEntry, Reward

MONEY = {"max_digits": 12, "decimal_places": 2}
EARN_CHANNELS = [LedgerEntry.Channel.POS, LedgerEntry.Channel.ECOMMERCE, LedgerEntry.Channel.MARKETPLACE]


@extend_schema_field({"type": "string", "format": "decimal", "pattern": r"^\d{1,10}(\.\d{1,2})?$",
                      "example": "1250.00"})
class MoneyInputField(serializers.DecimalField):
    """An amount of THB sent to the API: zero or more, at most 2 decimal places. The schema's
    pattern admits exactly what the field accepts as a string (the generic decimal pattern
    also admits "", "." and "-")."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", Decimal("0"))
        super().__init__(**MONEY, **kwargs)


class FieldsBoundOnce:
    """For the busiest serializers (every POS purchase): DRF deep-copies all declared fields (and
    those of nested serializers) for each serializer instance; these fields keep no per-request
    state (no context, no instance, no partial updates), so one bound copy per class serves
    every instance. Put it before ``serializers.Serializer`` in the bases."""

    @property
    def fields(self):
        shared = type(self).__dict__.get("_fields_bound_once")
        if shared is None:
            template = type(self)()
            shared = serializers.Serializer.fields.func(template)
            type(self)._fields_bound_once = shared
        return shared


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable and English: branch on this.")
    message = serializers.CharField(help_text="For people, in the request's language (Thai by default).")
    # DRF takes declared fields out of the class, so this one does not hide Serializer.fields.
    fields = serializers.DictField(help_text="The fields at fault and what is wrong with each (may be empty).")


class ErrorSerializer(serializers.Serializer):
    """Every error answer of the API (documented in the schema; the views never render it)."""

    error = ErrorDetailSerializer()


def purchase_time_checked(value):
    """A purchase time from another system: a little clock skew is fine, the future is not."""
    if value > timezone.now() + timezone.timedelta(hours=1):
        raise serializers.ValidationError(_("The purchase time is in the future."))
    return value


def purchase_lines_checked(value):
    if len(value) > 500:
        raise serializers.ValidationError(_("At most 500 lines per purchase."))
    return value


class MemberRefSerializer(FieldsBoundOnce, serializers.Serializer):
    code = serializers.CharField(required=False, max_length=16)
    phone = serializers.CharField(required=False, max_length=32)
    line_user_id = serializers.CharField(required=False, max_length=64)

    def validate(self, attrs):
        given = [name for name in ("code", "phone", "line_user_id") if attrs.get(name)]
        if len(given) != 1:
            raise serializers.ValidationError(_("Give exactly one of code, phone or line_user_id."))
        return attrs


class PurchaseLineSerializer(FieldsBoundOnce, serializers.Serializer):
    sku = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    category = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000, default=1)
    amount = MoneyInputField()


class PurchaseInputSerializer(FieldsBoundOnce, serializers.Serializer):
    order_id = serializers.CharField(max_length=100)
    member = MemberRefSerializer()
    total = MoneyInputField()
    lines = PurchaseLineSerializer(many=True, required=False, default=list)
    purchased_at = serializers.DateTimeField(required=False)
    branch = serializers.CharField(required=False, max_length=32)
    channel = serializers.ChoiceField(choices=EARN_CHANNELS, required=False,
                                      help_text="Optional; must match the API key's channel (default pos).")

    def validate_order_id(self, value):
        value = value.strip()
        if not value:
            raise serializers.ValidationError(_("This field may not be blank."))
        return value

    def validate_purchased_at(self, value):
        return purchase_time_checked(value)

    def validate_lines(self, value):
        return purchase_lines_checked(value)


class EarnedSerializer(FieldsBoundOnce, serializers.Serializer):
    currency = serializers.CharField()
    points = serializers.IntegerField()
    balance = serializers.IntegerField()


class PurchaseOutputSerializer(FieldsBoundOnce, serializers.Serializer):
    purchase_id = serializers.IntegerField(source="purchase.pk")
    order_id = serializers.CharField(source="purchase.order_id")
    member_code = serializers.CharField(source="purchase.member.code")
    total = serializers.DecimalField(source="purchase.total", **MONEY)
    points_earned = serializers.IntegerField()
    balance = serializers.IntegerField(allow_null=True)
    earned = EarnedSerializer(many=True)


class RefundInputSerializer(serializers.Serializer):
    amount = MoneyInputField(required=False, min_value=Decimal("0.01"))
    refund_id = serializers.CharField(required=False, max_length=100)

    def validate(self, attrs):
        # A retried partial refund must be recognisable, or it would refund twice.
        if attrs.get("amount") is not None and not attrs.get("refund_id"):
            raise serializers.ValidationError({"refund_id": [_("Required for a partial refund.")]})
        return attrs


class RefundOutputSerializer(serializers.Serializer):
    refund_id = serializers.CharField()
    purchase_id = serializers.IntegerField()
    amount = serializers.DecimalField(**MONEY)
    refunded_total = serializers.DecimalField(source="refunded_total_after", **MONEY)
    status = serializers.CharField(source="purchase_status_after")
    points_reversed = serializers.IntegerField()
    points_shortfall = serializers.IntegerField()
    details = serializers.DictField()


class BalanceSerializer(serializers.Serializer):
    currency = serializers.CharField(source="currency.code")
    name = serializers.CharField(source="currency.name")
    is_default = serializers.BooleanField(source="currency.is_default")
    balance = serializers.IntegerField()


class MemberTierSerializer(serializers.Serializer):
    code = serializers.CharField(source="tier.code")
    name = serializers.CharField(source="tier.name")
    name_en = serializers.CharField(source="tier.name_en")
    rank = serializers.IntegerField(source="tier.rank")
    earn_multiplier = serializers.DecimalField(source="tier.earn_multiplier", max_digits=5, decimal_places=2)
    qualified_until = serializers.DateTimeField(allow_null=True)
    grace_until = serializers.DateTimeField(allow_null=True)


class MemberOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    status = serializers.CharField()
    display_name = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    phone = serializers.CharField(allow_null=True)
    line_user_id = serializers.CharField(allow_null=True)
    balances = BalanceSerializer(many=True)
    tier = serializers.SerializerMethodField()

    @extend_schema_field(MemberTierSerializer(allow_null=True))
    def get_tier(self, member) -> dict | None:
        """The member's tier (null: none), when the view looked it up."""
        status = getattr(member, "tier_row", None)
        return MemberTierSerializer(status).data if status is not None and status.tier_id else None


class LedgerEntrySerializer(serializers.ModelSerializer):
    currency = serializers.CharField(source="account.currency.code")
    order_id = serializers.CharField(source="purchase.order_id", allow_null=True, default=None)
    reward = serializers.CharField(source="redemption.reward.name", allow_null=True, default=None)

    class Meta:
        model = LedgerEntry
        fields = ["id", "kind", "channel", "amount", "balance_after", "currency", "reference", "order_id",
                  "reward", "expires_at", "created_at"]
        read_only_fields = fields


class RewardSerializer(serializers.ModelSerializer):
    currency = serializers.CharField(source="currency.code")

    class Meta:
        model = Reward
        fields = ["id", "name", "name_en", "description", "points_cost", "currency", "stock", "value_thb",
                  "starts_at", "ends_at", "coupon_valid_days"]
        read_only_fields = fields


class RedemptionInputSerializer(serializers.Serializer):
    member = MemberRefSerializer()
    reward = serializers.IntegerField(min_value=1)
    request_id = serializers.CharField(max_length=100)


class CouponSerializer(serializers.ModelSerializer):
    reward = serializers.SerializerMethodField()
    member_code = serializers.CharField(source="member.code")
    used_branch = serializers.CharField(source="used_branch.code", allow_null=True, default=None)

    class Meta:
        model = Coupon
        fields = ["code", "display_code", "status", "expires_at", "used_at", "used_branch", "member_code", "reward"]
        read_only_fields = fields

    def get_reward(self, coupon) -> dict:
        reward = coupon.reward
        return {"id": reward.pk, "name": reward.name, "value_thb": str(reward.value_thb) if reward.value_thb else None}


class RedemptionOutputSerializer(serializers.Serializer):
    redemption_id = serializers.IntegerField(source="pk")
    request_id = serializers.CharField()
    reward = serializers.IntegerField(source="reward_id")
    points = serializers.IntegerField()
    balance = serializers.IntegerField(source="account.balance")
    coupon = CouponSerializer()
    coupon_code = serializers.CharField(source="coupon.code")


class CardVerifyInputSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=200)


class CouponUseInputSerializer(serializers.Serializer):
    branch = serializers.CharField(required=False, max_length=32)
    bill_total = MoneyInputField(required=False, help_text="The bill in THB, to check the coupon's minimum spend.")
    reference = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")

"""The v1 API for machines (POS, e-commerce) and staff sessions. Thin: parse, call one
service or selector, shape the answer."""

import contextlib

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from config.domain import ValidationFailed
from loyalty import selectors
from loyalty.errors import CouponNotFound
from loyalty.models import Coupon, LedgerEntry, Reward
from loyalty.models.rewards import normalise_coupon_code
from loyalty.services.earning import LineInput, purchase_record, purchase_refund
from loyalty.services.redemption import coupon_use, reward_redeem
from members.api.permissions import brand_for_request
from members.card import card_verify
from members.errors import BranchNotAllowed, InvalidPhone
from members.models import ApiKey
from members.selectors import branch_get, member_and_branch, member_find
from members.services import member_get_or_create_pending, phone_normalise

from . import serializers as s

ERROR = OpenApiResponse(s.ErrorSerializer, description='`{"error": {"code", "message", "fields"}}`')


def errors(*statuses: int) -> dict:
    """Error answers an operation documents. Every operation may answer 400 (a malformed body,
    or a staff session that must name its brand), 401 (no or a revoked API key), 403 (a staff
    session without access to the brand) and 404."""
    return dict.fromkeys(sorted({400, 401, 403, 404, *statuses}), ERROR)


WRITE_ERRORS = (415,)  # a body that is not JSON, form or multipart


def resolve_member(brand, ref: dict, *, create_pending: bool = False):
    """The member a request names; with ``create_pending`` an unknown phone becomes a pending member."""
    if ref.get("phone"):
        try:
            phone = phone_normalise(ref["phone"])
        except InvalidPhone as error:
            raise InvalidPhone(fields={"member": {"phone": [str(InvalidPhone.message)]}}) from error
        if create_pending:
            member, _created = member_get_or_create_pending(brand=brand, phone=phone)
            return member
        return member_find(brand=brand, phone=phone)
    return member_find(brand=brand, code=ref.get("code"), line_user_id=ref.get("line_user_id"))


def resolve_branch(request, brand, code: str | None):
    key = request.auth if isinstance(request.auth, ApiKey) else None
    if key is not None and key.branch_id:
        if code and code != key.branch.code:
            raise BranchNotAllowed(fields={"branch": [str(BranchNotAllowed.message)]})
        return key.branch
    return branch_get(brand=brand, code=code) if code else None


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@authentication_classes([])
@permission_classes([])
def no_route(request, *args, **kwargs):
    """Any /api/v1/ URL that matches no route: a JSON 404 like every other API error."""
    raise NotFound()


def resolve_channel(request, requested: str | None) -> str:
    """The API key fixes the channel (order IDs are unique per channel); staff sessions record POS."""
    key = request.auth if isinstance(request.auth, ApiKey) else None
    channel = key.channel if key is not None else (requested or LedgerEntry.Channel.POS)
    if requested and requested != channel:
        raise ValidationFailed(fields={"channel": [_("This API key records %(channel)s purchases.")
                                                   % {"channel": channel}]})
    return channel


class PurchaseCreateView(APIView):
    @extend_schema(request=s.PurchaseInputSerializer,
                   responses={201: s.PurchaseOutputSerializer, 200: s.PurchaseOutputSerializer,
                              **errors(409, *WRITE_ERRORS)},
                   summary="Record a purchase and earn points (idempotent on order_id)")
    def post(self, request):
        brand = brand_for_request(request)
        data = s.PurchaseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        reference = values["member"]
        member = branch = None
        key = request.auth if isinstance(request.auth, ApiKey) else None
        if values.get("branch") and not (key is not None and key.branch_id) and not reference.get("phone"):
            # The usual POS body (a member code, a branch code, a brand-wide key): one query for both.
            member, branch = member_and_branch(brand=brand, branch_code=values["branch"],
                                               code=reference.get("code"), line_user_id=reference.get("line_user_id"))
        branch = branch or resolve_branch(request, brand, values.get("branch"))
        channel = resolve_channel(request, values.get("channel"))
        # A pending member created for an unknown phone goes if the purchase is refused; a member named
        # by code or LINE id is only read, and purchase_record's own transaction is then the outermost.
        pending_possible = bool(reference.get("phone"))
        with transaction.atomic() if pending_possible else contextlib.nullcontext():
            member = member or resolve_member(brand, reference, create_pending=True)
            result = purchase_record(
                brand=brand,
                member=member,
                channel=channel,
                order_id=values["order_id"],
                total=values["total"],
                lines=[LineInput(**line) for line in values["lines"]],
                purchased_at=values.get("purchased_at") or timezone.now(),
                branch=branch,
                api_key=key,
            )
        return Response(s.PurchaseOutputSerializer(result).data,
                        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class PurchaseRefundView(APIView):
    @extend_schema(request=s.RefundInputSerializer,
                   responses={201: s.RefundOutputSerializer, 200: s.RefundOutputSerializer,
                              **errors(409, *WRITE_ERRORS)},
                   summary="Refund a purchase (all of it, or `amount` THB) and reverse its points pro rata")
    def post(self, request, purchase_id: int):
        brand = brand_for_request(request)
        data = s.RefundInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = request.auth if isinstance(request.auth, ApiKey) else None
        result = purchase_refund(brand=brand, purchase_id=purchase_id, amount=data.validated_data.get("amount"),
                                 refund_id=data.validated_data.get("refund_id"),
                                 branch=key.branch if key is not None and key.branch_id else None)
        refund = result.refund
        return Response(s.RefundOutputSerializer(refund).data,
                        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class MemberDetailView(APIView):
    @extend_schema(responses={200: s.MemberOutputSerializer, **errors()}, summary="A member and their balances")
    def get(self, request, code: str):
        member = member_find(brand=brand_for_request(request), code=code)
        member.balances = selectors.member_balances(member=member)
        member.tier_row = selectors.member_tier_row(member=member)
        return Response(s.MemberOutputSerializer(member).data)


class MemberCardVerifyView(APIView):
    @extend_schema(request=s.CardVerifyInputSerializer,
                   responses={200: s.MemberOutputSerializer, **errors(422, *WRITE_ERRORS)},
                   summary="The member behind a scanned member-card QR (signed, valid 90 seconds)")
    def post(self, request):
        brand = brand_for_request(request)
        data = s.CardVerifyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = card_verify(brand=brand, token=data.validated_data["token"])
        member.balances = selectors.member_balances(member=member)
        member.tier_row = selectors.member_tier_row(member=member)
        return Response(s.MemberOutputSerializer(member).data)


@extend_schema_view(get=extend_schema(summary="A member's ledger, newest first",
                                      responses={200: s.LedgerEntrySerializer(many=True), **errors()}))
class MemberLedgerView(generics.ListAPIView):
    serializer_class = s.LedgerEntrySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return LedgerEntry.objects.none()
        member = member_find(brand=brand_for_request(self.request), code=self.kwargs["code"])
        return selectors.member_ledger(member=member)


@extend_schema_view(get=extend_schema(
    summary="Rewards available now",
    responses={200: s.RewardSerializer(many=True), **errors()},
    parameters=[OpenApiParameter("member", str, description="A member code: only the rewards this member's tier "
                                                            "unlocks (rewards for a higher tier are left out).")]))
class RewardListView(generics.ListAPIView):
    serializer_class = s.RewardSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Reward.objects.none()
        brand = brand_for_request(self.request)
        code = self.request.query_params.get("member")
        if code:
            return selectors.rewards_unlocked(member=member_find(brand=brand, code=code))
        return selectors.rewards_available(brand=brand)


def redemption_body(redemption) -> dict:
    entry = redemption.ledger_entries.order_by("id").first()
    body = s.RedemptionOutputSerializer(redemption).data
    body["balance"] = entry.balance_after if entry else redemption.account.balance
    return body


class RedemptionCreateView(APIView):
    @extend_schema(request=s.RedemptionInputSerializer,
                   responses={201: s.RedemptionOutputSerializer, 200: s.RedemptionOutputSerializer,
                              **errors(409, 422, *WRITE_ERRORS)},
                   summary="Redeem a reward for points and issue its coupon (idempotent on request_id)")
    def post(self, request):
        brand = brand_for_request(request)
        data = s.RedemptionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        member = resolve_member(brand, values["member"])
        result = reward_redeem(brand=brand, member=member, reward_id=values["reward"],
                               request_id=values["request_id"])
        return Response(redemption_body(result.redemption),
                        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class CouponDetailView(APIView):
    @extend_schema(responses={200: s.CouponSerializer, **errors()}, summary="Look up a coupon and its state")
    def get(self, request, code: str):
        brand = brand_for_request(request)
        coupon = (Coupon.objects.select_related("reward", "member", "used_branch")
                  .filter(brand=brand, code=normalise_coupon_code(code)).first())
        if coupon is None:
            raise CouponNotFound()
        return Response(s.CouponSerializer(coupon).data)


class CouponUseView(APIView):
    @extend_schema(request=s.CouponUseInputSerializer,
                   responses={200: s.CouponSerializer, **errors(409, 422, *WRITE_ERRORS)},
                   summary="Use a coupon, once")
    def post(self, request, code: str):
        brand = brand_for_request(request)
        data = s.CouponUseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        branch = resolve_branch(request, brand, data.validated_data.get("branch"))
        coupon = coupon_use(brand=brand, code=code, branch=branch, reference=data.validated_data["reference"],
                            bill_total=data.validated_data.get("bill_total"))
        return Response(s.CouponSerializer(coupon).data)


"""Accounts: the signed-in user's profile. ``GET /v1/accounts/{sub}``."""

from __future__ import annotations

from core_clients.base import CallContext, CoreClient, WireStruct, path_segment

__all__ = ["Account", "AccountsClient"]


class Account(WireStruct, frozen=True):
    id: str
    sub: str
    display_name: str
    email: str
    tier: str
    locale: str
    currency: str
    created_at: str
    avatar_url: str | None = None


class AccountsClient(CoreClient):
    service = "accounts"

    async def get_account(self, sub: str, *, ctx: CallContext) -> Account:
        """The profile of ``sub``; any ``sub`` has one, so 404 only means a broken service."""
        return await self._request(
            "GET",
            f"/v1/accounts/{path_segment(sub)}",
            ctx=ctx,
            idempotent=True,
            decode_as=Account,
        )

"""Recommendations: product ids picked for a user (the catalog supplies the products)."""

from __future__ import annotations

from core_clients.base import CallContext, CoreClient, WireStruct, path_segment

__all__ = ["Recommendations", "RecommendationsClient"]


class Recommendations(WireStruct, frozen=True):
    product_ids: list[str]
    model_version: str


class RecommendationsClient(CoreClient):
    service = "recommendations"

    async def get_recommendations(
        self, sub: str, *, limit: int = 10, ctx: CallContext
    ) -> Recommendations:
        return await self._request(
            "GET",
            f"/v1/accounts/{path_segment(sub)}/recommendations",
            ctx=ctx,
            params={"limit": limit},
            idempotent=True,
            decode_as=Recommendations,
        )

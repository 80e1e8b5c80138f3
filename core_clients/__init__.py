"""Typed async clients for the four core services (contract: ``docs/core-services.md``).

One ``CoreHttpClient`` (an ``httpx.AsyncClient``) per service (``build_http_client``), opened
and closed by the gateway lifespan; one client object per service wrapping it. Every method
takes ``ctx=CallContext(...)`` and raises only ``shared.platform.errors.CoreError`` subclasses.
"""

from core_clients.accounts import Account, AccountsClient
from core_clients.base import BreakerOpen, CoreClient, UpstreamRejected
from core_clients.breaker import BreakerState, BreakerTransitionHook, CircuitBreaker
from core_clients.catalog import CatalogClient, Image, Inventory, Product, Rating
from core_clients.orders import NewOrderLine, Order, OrderLine, OrderPage, OrdersClient
from core_clients.policy import ServicePolicy
from core_clients.recommendations import Recommendations, RecommendationsClient
from core_clients.transport import CoreHttpClient, build_http_client, default_transport
from core_clients.wire import CallContext, Money

__all__ = [
    "Account",
    "AccountsClient",
    "BreakerOpen",
    "BreakerState",
    "BreakerTransitionHook",
    "CallContext",
    "CatalogClient",
    "CircuitBreaker",
    "CoreClient",
    "CoreHttpClient",
    "Image",
    "Inventory",
    "Money",
    "NewOrderLine",
    "Order",
    "OrderLine",
    "OrderPage",
    "OrdersClient",
    "Product",
    "Rating",
    "Recommendations",
    "RecommendationsClient",
    "ServicePolicy",
    "UpstreamRejected",
    "build_http_client",
    "default_transport",
]

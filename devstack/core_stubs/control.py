"""The routes beside the services: a health probe, the faults (``/_chaos``) and the call
counters (``/_stats``). None of them needs a token, is counted or is faulted."""

from __future__ import annotations

from litestar import delete, get, put
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody

from devstack.core_stubs.models import CallStats, ChaosSpec
from devstack.core_stubs.services import SERVICES
from devstack.core_stubs.state import Stubs


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/_chaos")
async def show_chaos(stubs: Stubs) -> dict[str, ChaosSpec]:
    return {service: stubs.chaos.get(service, ChaosSpec()) for service in SERVICES}


@put("/_chaos/{service:str}")
async def set_chaos(service: FromPath[str], data: JSONBody[ChaosSpec], stubs: Stubs) -> ChaosSpec:
    if service not in SERVICES:
        raise NotFoundException(f"no service {service!r}; known: {', '.join(SERVICES)}")
    stubs.chaos[service] = data
    return data


@delete("/_chaos")
async def clear_chaos(stubs: Stubs) -> None:
    stubs.chaos.clear()


@get("/_stats")
async def show_stats(stubs: Stubs) -> CallStats:
    return stubs.stats


@delete("/_stats")
async def clear_stats(stubs: Stubs) -> None:
    stubs.stats = CallStats()


CONTROL_ROUTES = [health, show_chaos, set_chaos, clear_chaos, show_stats, clear_stats]

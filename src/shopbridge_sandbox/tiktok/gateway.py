"""The API front door: routing, fault knobs, gateway checks, rate limit, idempotency, envelope.

Every answer is `{code, message, request_id, data}` (§6.1). Order of events for one request:
path and method (36009009 / 36009010), an injected fault if the knobs draw one (5xx and 429
answer at once; a timeout does the work, then sleeps `api_timeout_seconds` real seconds before
answering, so a client that gave up may find its write applied; a lost answer does the work,
then answers HTTP 502 with code 36009003 whatever the real answer was), the gateway checks in
`auth.py`, the rate limit, then the endpoint under the marketplace lock.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shopbridge_sandbox.faults import ApiFault, Faults
from shopbridge_sandbox.tiktok import errors as e
from shopbridge_sandbox.tiktok.auth import Caller, authenticate
from shopbridge_sandbox.tiktok.errors import ApiError
from shopbridge_sandbox.tiktok.models import Shop
from shopbridge_sandbox.tiktok.orders import OrderDesk
from shopbridge_sandbox.tiktok.ratelimit import RateLimiter
from shopbridge_sandbox.tiktok.seller import SellerDesk
from shopbridge_sandbox.tiktok.state import Marketplace


@dataclass
class Call:
    """What an endpoint gets: the caller, its shop, the parsed request."""

    market: Marketplace
    seller: SellerDesk
    caller: Caller
    query: dict[str, str]
    body: dict[str, Any]
    params: dict[str, str]
    now: datetime

    @property
    def shop(self) -> Shop:
        assert self.caller.shop is not None, "shop-scoped endpoint without a shop"
        return self.caller.shop


Handler = Callable[[Call], dict[str, Any]]


@dataclass(frozen=True)
class ApiRoute:
    method: str
    template: str  # e.g. /order/202309/orders/{order_id}/packages; also the rate-limit key
    handler: Handler
    idempotent: bool = False  # honours the idempotency_key query parameter
    pattern: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        object.__setattr__(self, "pattern", re.compile(regex))


class ApiGateway:
    def __init__(
        self,
        market: Marketplace,
        desk: OrderDesk,
        faults: Faults,
        limiter: RateLimiter,
        routes: list[ApiRoute],
    ) -> None:
        self.market = market
        self.desk = desk
        self.faults = faults
        self.limiter = limiter
        self.routes = routes
        self._random = random.Random(faults.seed)
        self._idempotent: dict[tuple[str, str, str], tuple[int, dict[str, Any]]] = {}

    def envelope(self, code: int, message: str, data: Any, status: int = 200) -> JSONResponse:
        now = self.market.clock.now()
        request_id = f"{now:%Y%m%d%H%M%S}{self.market.ids.hex(20).upper()}"
        body = {"code": code, "message": message, "request_id": request_id, "data": data}
        return JSONResponse(body, status_code=status)

    def refuse(self, error: ApiError) -> JSONResponse:
        return self.envelope(error.code, error.message, None, error.http_status)

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        matches = [(r, m) for r in self.routes if (m := r.pattern.fullmatch(path))]
        if not matches:
            return self.refuse(ApiError(e.INVALID_PATH, f"Invalid path {path}", 404))
        found = next(((r, m) for r, m in matches if r.method == request.method), None)
        if found is None:
            return self.refuse(ApiError(e.INVALID_METHOD, f"Invalid method {request.method}", 405))
        route, match = found
        fault = self.faults.api_fault()
        if fault is ApiFault.SERVER_ERROR:
            status = self._random.choice((500, 503))
            return self.refuse(ApiError(e.INTERNAL_ERROR, "Internal error, please retry", status))
        if fault is ApiFault.RATE_LIMITED:
            return self.refuse(ApiError(e.TOO_MANY_REQUESTS, "Too many requests", 429))
        raw_body = await request.body()
        response = self._handle(request, route, match.groupdict(), raw_body)
        if self.faults.settings.api_latency_seconds:
            await asyncio.sleep(self.faults.settings.api_latency_seconds)
        if fault is ApiFault.TIMEOUT:
            await asyncio.sleep(self.faults.settings.api_timeout_seconds)
        if fault is ApiFault.LOST_ANSWER:
            # The call went through; only its answer is lost on the way back.
            return self.refuse(ApiError(e.INTERNAL_ERROR, "Bad gateway, please retry", 502))
        return response

    def _handle(
        self, request: Request, route: ApiRoute, params: dict[str, str], raw_body: bytes
    ) -> JSONResponse:
        query = dict(request.query_params)
        content_type = request.headers.get("content-type", "")
        try:
            if raw_body and content_type.split(";")[0].strip().lower() != "application/json":
                raise ApiError(
                    e.INVALID_CONTENT_TYPE, "Invalid content-type; use application/json", 400
                )
            with self.market.lock:
                now = self.market.clock.now()
                self.desk.apply_due(now)
                caller = authenticate(
                    self.market,
                    request.url.path,
                    query,
                    raw_body,
                    content_type,
                    request.headers.get("x-tts-access-token"),
                )
                shop_id = caller.shop.id if caller.shop else caller.grant.shop_id
                key = (caller.app_key, shop_id, route.method, route.template)
                if not self.limiter.allow(key):
                    raise ApiError(e.TOO_MANY_REQUESTS, "Too many requests", 429)
                seller = SellerDesk(self.market, self.desk)
                call = Call(self.market, seller, caller, query, _json(raw_body), params, now)
                code, data = self._run(route, call, request.url.path)
        except ApiError as error:
            return self.refuse(error)
        if code:
            return self.envelope(code, data["message"], None)
        return self.envelope(0, "Success", data)

    def _run(self, route: ApiRoute, call: Call, path: str) -> tuple[int, dict[str, Any]]:
        """Runs the endpoint; with an idempotency_key, a repeat gets the first answer back."""
        idempotency_key = call.query.get("idempotency_key") if route.idempotent else None
        if idempotency_key:
            stored = self._idempotent.get((call.shop.id, path, idempotency_key))
            if stored is not None:
                return stored
        try:
            result: tuple[int, dict[str, Any]] = (0, _checked(route.handler, call))
        except ApiError as error:
            if error.http_status != 200 or not idempotency_key:
                raise
            result = (error.code, {"message": error.message})
        if idempotency_key:
            self._idempotent[(call.shop.id, path, idempotency_key)] = result
        return result


def _checked(handler: Handler, call: Call) -> dict[str, Any]:
    """Runs an endpoint; ill-typed input (a string where a number goes, ...) is a 400 in the
    envelope, like the real gateway's parameter checks, not a bare 500."""
    try:
        return handler(call)
    except (ValueError, TypeError, AttributeError) as exc:
        raise e.bad_parameter(f"{type(exc).__name__}: {exc}") from exc


def _json(raw: bytes) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise e.bad_parameter("the body is not valid JSON") from exc
    if not isinstance(parsed, dict):
        raise e.bad_parameter("the body must be a JSON object")
    return parsed

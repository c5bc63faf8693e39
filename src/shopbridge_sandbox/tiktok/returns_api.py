"""Search Returns (wave2 §6.1)."""

from __future__ import annotations

from typing import Any

from shopbridge_sandbox.tiktok.gateway import ApiRoute, Call
from shopbridge_sandbox.tiktok.models import Return
from shopbridge_sandbox.tiktok.orders_api import in_windows, search_records
from shopbridge_sandbox.tiktok.views import return_view


def search_returns(call: Call) -> dict[str, Any]:
    # wave2 §6.1: page_size is 10 to 50 (default 10), unlike the other searches.
    page, token, total = search_records(
        call,
        call.market.returns.values(),
        _return_matches,
        max_size=50,
        min_size=10,
        default_size=10,
        default_order="ASC",
    )
    views = [return_view(r, call.market.order(r.order_id), call.shop) for r in page]
    return {"return_orders": views, "next_page_token": token, "total_count": total}


def _return_matches(request: Return, body: dict[str, Any]) -> bool:
    filters = {
        "return_ids": request.id,
        "order_ids": request.order_id,
        "return_types": request.return_type,
        "return_status": request.status,
    }
    for name, value in filters.items():
        if body.get(name) and value not in body[name]:
            return False
    return in_windows(request, body)


ROUTES = [ApiRoute("POST", "/return_refund/202309/returns/search", search_returns)]

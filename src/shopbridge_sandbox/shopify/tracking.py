"""Tracking URLs Shopify builds itself when a fulfilment names a supported carrier.

"If you provide a company from the supported list (exact spelling and capitalisation) and no
url, Shopify builds a URL per number" (FulfillmentTrackingInput.number, shopify_api_wave2.md §4).
The sandbox knows the URL of a handful of common carriers on that list
(`shopbridge/shopify/schema/tracking_companies_2026-01.txt`); every other company, on the list
or not, gets no URL, and a misspelt name ("Fedex", "ups") gets none either. The USPS form is
quoted from a Shopify REST order sample [wave2 §4]; the UPS, FedEx and DHL Express forms are the
ones Shopify is seen to build, UNCONFIRMED against a live store. Guessing a carrier from the
number's format (Shopify's third rule) is not modelled.
"""

from __future__ import annotations

from urllib.parse import quote

URL_TEMPLATES: dict[str, str] = {
    "USPS": "https://tools.usps.com/go/TrackConfirmAction_input?qtc_tLabels1={number}",
    "UPS": "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums={number}",
    "FedEx": "https://www.fedex.com/fedextrack/?trknbr={number}",
    "DHL Express": "https://www.dhl.com/en/express/tracking.html?AWB={number}&brand=DHL",
}


def tracking_url(company: str | None, number: str | None) -> str | None:
    """The URL Shopify builds for `number` shipped with `company`, if it builds one."""
    template = URL_TEMPLATES.get(company or "")
    if template is None or not number:
        return None
    return template.format(number=quote(number, safe=""))

"""The timeline's words: what the core and the bridge write there reads as plain words, and the
notes about updates set aside start as the order page expects, so it can fold them away."""

from __future__ import annotations

import re

from shopbridge.domain import events as ev
from shopbridge.domain.commands import COMMAND_TYPES, action_words
from shopbridge.domain.mirror import OrderMirror
from shopbridge.domain.policy import Policy
from shopbridge.domain.tiktok_order import TikTokStatus
from shopbridge.domain.transition import transition
from shopbridge.engine.bridge import describe
from shopbridge.web.order_timeline import TECHNICAL_NOTE_STARTS
from support.orders import ORDER_ID, T0, minutes, snapshot

POLICY = Policy()
RAW_STATUS = re.compile("|".join(s.value for s in TikTokStatus if "_" in s.value))


def reserved() -> OrderMirror:
    """Seen unpaid, its Shopify order created."""
    decision = transition(
        OrderMirror(ORDER_ID), ev.TikTokOrderObserved(snapshot("UNPAID", at=T0)), T0, POLICY
    )
    key = decision.commands[0].key
    created = ev.ShopifyOrderCreated(key, "gid://shopify/Order/1", "#1001", ("h1",))
    return transition(decision.mirror, created, T0, POLICY).mirror


def test_an_older_tiktok_snapshot_is_noted_as_set_aside() -> None:
    """A repeated or older TikTok update is noted with the words the page folds away."""
    mirror = reserved()
    paid = snapshot("AWAITING_SHIPMENT", at=T0 + minutes(5), paid=T0 + minutes(5))
    mirror = transition(mirror, ev.TikTokOrderObserved(paid), T0 + minutes(5), POLICY).mirror
    older = ev.TikTokOrderObserved(snapshot("UNPAID", at=T0))
    notes = transition(mirror, older, T0 + minutes(6), POLICY).notes
    assert len(notes) == 1
    assert notes[0].startswith(TECHNICAL_NOTE_STARTS)
    assert not RAW_STATUS.search(notes[0]), notes[0]


def test_a_stale_outcome_is_noted_as_set_aside() -> None:
    """The outcome of a command that is no longer in flight changes nothing and says so."""
    stale = ev.ShopifyOrderCancelled(f"{ORDER_ID}/99")
    notes = transition(reserved(), stale, T0, POLICY).notes
    assert notes and notes[0].startswith(TECHNICAL_NOTE_STARTS)


def test_an_older_cancellation_update_is_noted_as_set_aside() -> None:
    """An update of a cancellation older than the one we have is set aside."""
    now = T0 + minutes(70)
    pending = ev.CancellationObserved("C1", "CANCELLATION_REQUEST_PENDING", "BUYER", now)
    mirror = transition(reserved(), pending, now, POLICY).mirror
    older = ev.CancellationObserved("C1", "CANCELLATION_REQUEST_CANCELLED", "BUYER", T0)
    notes = transition(mirror, older, now, POLICY).notes
    assert notes and notes[0].startswith(TECHNICAL_NOTE_STARTS)


def test_a_deadline_with_nothing_to_do_is_noted_as_set_aside() -> None:
    """Waking up for a deadline is itself not news for the merchant."""
    notes = transition(reserved(), ev.DeadlineReached("holdback"), T0, POLICY).notes
    assert len(notes) == 1 and notes[0].startswith(TECHNICAL_NOTE_STARTS)


def test_status_notes_use_words_not_tiktok_codes() -> None:
    """'TikTok status is now awaiting shipment', never AWAITING_SHIPMENT."""
    paid = snapshot("AWAITING_SHIPMENT", at=T0 + minutes(5), paid=T0 + minutes(5))
    notes = transition(reserved(), ev.TikTokOrderObserved(paid), T0 + minutes(5), POLICY).notes
    assert notes[0].startswith("TikTok status is now awaiting shipment")
    assert not any(RAW_STATUS.search(note) for note in notes)


def test_a_failed_action_is_named_by_what_it_does() -> None:
    """'Gave up on sending tracking to TikTok', never 'ship on tiktok'."""
    mirror = OrderMirror(ORDER_ID, tiktok=snapshot("AWAITING_SHIPMENT", at=T0, paid=T0))
    failed = ev.ActionFailed("k", "ship_on_tiktok", "no such carrier")
    assert describe(failed) == "Sending tracking to TikTok failed: no such carrier"
    retried = transition(mirror, ev.MerchantRetried("ship_on_tiktok"), T0, POLICY).notes
    assert retried[0] == "Merchant asked to retry sending tracking to TikTok."


def test_every_command_kind_has_its_own_words() -> None:
    """No command kind falls back to its identifier with spaces."""
    for kind in COMMAND_TYPES:
        assert action_words(kind) != kind.replace("_", " "), kind


def test_outcome_lines_are_words_not_class_names() -> None:
    """The bridge's line for our answer on TikTok reads as a sentence ('Tik tok cancellation
    answered' was the class name split at capitals)."""
    answered = ev.TikTokCancellationAnswered("k", "C1", "approve")
    assert describe(answered) == "Approved the buyer's cancellation request on TikTok"
    observed = ev.TikTokOrderObserved(snapshot("AWAITING_SHIPMENT", at=T0, paid=T0))
    assert describe(observed).startswith("TikTok order read (webhook): awaiting shipment")

"""The send queue's policy alone: put, send, confirm, resend, drop, with the clock passed in."""

from __future__ import annotations

from common.wire.envelope import encode
from common.wire.ingest import PollingData, TagValue
from services.poller.outbox import HARD_LIMIT, Outbox


def frame(n: int, values: int = 2) -> bytes:
    return encode(PollingData("P", "G", n, 1000 * n, 1.0, [TagValue("D0", n, "GOOD")] * values))


def send_all(outbox: Outbox, now: float) -> list[int]:
    sent = []
    while (item := outbox.next_frame()) is not None:
        outbox.sent(item[0], now)
        sent.append(item[0][1])
    return sent


def test_cycles_are_sent_in_order_and_forgotten_when_confirmed() -> None:
    outbox = Outbox(capacity=10, ack_timeout=5.0)
    for n in (1, 2, 3):
        assert outbox.put(("G", n), frame(n), 2) == []
    assert outbox.queued == 3 and outbox.in_flight == 0
    assert send_all(outbox, now=100.0) == [1, 2, 3]
    assert outbox.queued == 0 and outbox.in_flight == 3 and len(outbox) == 3
    assert outbox.confirm([("G", 2), ("G", 99)]) == [("G", 2)]  # someone else's key is ignored
    assert (outbox.in_flight, outbox.confirmed, len(outbox)) == (2, 1, 2)


def test_a_confirmation_before_sending_forgets_the_cycle_unsent() -> None:
    outbox = Outbox(capacity=10, ack_timeout=5.0)
    outbox.put(("G", 1), frame(1), 2)
    outbox.put(("G", 2), frame(2), 2)
    outbox.confirm([("G", 1)])  # e.g. the previous run's cycle, confirmed again by the buffer
    assert send_all(outbox, now=0.0) == [2]


def test_unconfirmed_cycles_fall_due_after_the_timeout_and_are_sent_again_in_order() -> None:
    outbox = Outbox(capacity=10, ack_timeout=5.0)
    outbox.put(("G", 1), frame(1), 2)
    outbox.put(("G", 2), frame(2), 2)
    send_all(outbox, now=100.0)
    assert outbox.due(now=104.9) == []  # not yet
    outbox.put(("G", 3), frame(3), 2)
    send_all(outbox, now=104.9)
    assert outbox.due(now=105.1) == [("G", 1), ("G", 2)]  # only those sent more than 5 s ago
    assert (outbox.resent, outbox.in_flight, outbox.queued) == (2, 1, 2)
    assert send_all(outbox, now=105.2) == [1, 2]
    assert outbox.sent_count == 5


def test_a_full_queue_drops_the_oldest_unsent_cycle_not_one_in_flight() -> None:
    outbox = Outbox(capacity=3, ack_timeout=5.0)
    outbox.put(("G", 1), frame(1), 2)
    send_all(outbox, now=0.0)  # 1 is in flight: most likely arrived
    for n in (2, 3, 4):
        assert outbox.put(("G", n), frame(n), 2) == []
    dropped = outbox.put(("G", 5), frame(5), 2)
    assert [(k, e.count()) for k, e in dropped] == [(("G", 2), 2)]
    assert outbox.dropped == 1 and list(outbox.entries) == [("G", 1), ("G", 3), ("G", 4), ("G", 5)]
    assert send_all(outbox, now=1.0) == [3, 4, 5]


def test_a_buffer_that_never_confirms_bounds_the_queue_at_the_hard_limit() -> None:
    outbox = Outbox(capacity=2, ack_timeout=5.0)
    dropped = []
    for n in range(1, 11):
        dropped += outbox.put(("G", n), frame(n), 2)
        send_all(outbox, now=float(n))  # every cycle sent, none confirmed
    assert len(outbox) == HARD_LIMIT * 2
    assert [k[1] for k, _ in dropped] == [1, 2, 3, 4, 5, 6]  # every one was sent: the oldest went first
    assert outbox.in_flight == len(outbox) and outbox.queued == 0


def test_a_reloaded_cycle_counts_its_values_when_dropped() -> None:
    outbox = Outbox(capacity=1, ack_timeout=5.0)
    outbox.reload([(("G", 1), frame(1, values=7))])
    [(key, entry)] = outbox.put(("G", 2), frame(2), 2)
    assert key == ("G", 1) and entry.count() == 7


def test_cycles_the_journal_could_not_take_are_kept_and_counted_until_written() -> None:
    outbox = Outbox(capacity=10, ack_timeout=5.0)
    outbox.put(("G", 1), frame(1), 2)
    outbox.put(("G", 2), frame(2), 2)
    outbox.entries[("G", 2)].journaled = False  # the caller's journal write failed (a full disk)
    assert outbox.unjournaled == 1 and send_all(outbox, now=0.0) == [1, 2]  # sent all the same
    assert [k for k, _ in outbox.live()] == [("G", 1), ("G", 2)]
    outbox.all_journaled()  # the caller rewrote the journal from live()
    assert outbox.unjournaled == 0

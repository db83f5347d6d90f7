"""An idle consumer spaces its polls out; one that is receiving polls back to back."""

import threading
import time

import pytest

from runtime.consumer import IdlePacing


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestIdlePacing:
    def test_polls_back_to_back_while_records_keep_coming(self):
        clock = Clock()
        pacing = IdlePacing(idle_after_s=2.0, idle_period_s=0.25, clock=clock)
        clock.now += 1.5
        assert not pacing.idle
        assert pacing.pause_after_empty_poll(poll_started=clock.now - 0.1) == 0.0

    def test_spaces_polls_after_a_quiet_spell(self):
        clock = Clock()
        pacing = IdlePacing(idle_after_s=2.0, idle_period_s=0.25, clock=clock)
        clock.now += 2.0
        assert pacing.idle
        # The poll itself took 50 ms of the period: wait the rest.
        assert pacing.pause_after_empty_poll(poll_started=clock.now - 0.05) == pytest.approx(0.2)
        assert pacing.pause_after_empty_poll(poll_started=clock.now - 0.3) == 0.0

    def test_the_first_record_ends_the_pause(self):
        clock = Clock()
        pacing = IdlePacing(idle_after_s=2.0, idle_period_s=0.25, clock=clock)
        clock.now += 10.0
        assert pacing.idle
        pacing.records_seen()
        assert not pacing.idle
        assert pacing.pause_after_empty_poll(poll_started=clock.now) == 0.0

    def test_a_wake_up_ends_the_pause_and_restores_the_full_pace(self):
        clock = Clock()
        pacing = IdlePacing(idle_after_s=2.0, idle_period_s=1.0, clock=clock)
        clock.now += 10.0
        assert pacing.pause_after_empty_poll(poll_started=clock.now) == 1.0
        woken = threading.Thread(target=pacing.wake)
        woken.start()
        started = time.monotonic()
        pacing.pause(30.0)  # the wake-up cuts it short
        woken.join()
        assert time.monotonic() - started < 5.0
        assert not pacing.idle
        assert pacing.pause_after_empty_poll(poll_started=clock.now) == 0.0

    def test_never_pauses_while_its_group_is_rebalancing(self):
        """Between a join and the next poll kafka-python sends no heartbeats: a member that
        paused then would outlast a short session timeout and be evicted, over and over."""
        clock = Clock()
        pacing = IdlePacing(idle_after_s=2.0, idle_period_s=2.0, clock=clock)
        pacing.rebalancing()
        clock.now += 10.0
        assert pacing.idle
        assert pacing.pause_after_empty_poll(poll_started=clock.now) == 0.0
        pacing.assigned()
        assert pacing.pause_after_empty_poll(poll_started=clock.now) == 2.0

    def test_outside_a_group_it_is_never_rebalancing(self):
        clock = Clock()
        pacing = IdlePacing(idle_after_s=2.0, idle_period_s=1.0, clock=clock)
        clock.now += 10.0
        assert pacing.pause_after_empty_poll(poll_started=clock.now) == 1.0

    def test_pauses_longer_while_word_of_new_records_can_reach_it(self):
        """While its listener hears the relays (runtime.published), an idle consumer is woken
        when records come, so its own polls are only the fallback and may be rarer; the
        moment the listener loses its connection, the shorter period is back."""
        clock = Clock()
        pacing = IdlePacing(idle_after_s=2.0, idle_period_s=1.0, heard_period_s=5.0, clock=clock)
        listening = threading.Event()
        pacing.hears_through(listening)
        clock.now += 10.0
        assert pacing.pause_after_empty_poll(poll_started=clock.now) == 1.0
        listening.set()
        assert pacing.pause_after_empty_poll(poll_started=clock.now) == 5.0
        listening.clear()
        assert pacing.pause_after_empty_poll(poll_started=clock.now) == 1.0

    def test_without_a_listener_the_idle_period_holds(self):
        clock = Clock()
        pacing = IdlePacing(idle_after_s=2.0, idle_period_s=1.0, heard_period_s=5.0, clock=clock)
        clock.now += 10.0
        assert pacing.pause_after_empty_poll(poll_started=clock.now) == 1.0


def test_a_consumer_goes_idle_only_after_more_quiet_than_a_relay_needs_to_announce():
    """A relay announces a batch (runtime.published) only after ANNOUNCE_AFTER_QUIET_S without
    one; a consumer idle sooner would sleep through a batch nobody announced."""
    from runtime.relay import ANNOUNCE_AFTER_QUIET_S

    assert IdlePacing().idle_after_s > ANNOUNCE_AFTER_QUIET_S

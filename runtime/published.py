"""Word that a topic has new records, from the relay that published them to the consumers of
other processes, through PostgreSQL's LISTEN/NOTIFY (every service's schema is in one
database).

A relay that publishes a batch after a quiet spell (half a second without one) notifies
``dist_published`` with its topic as the payload, in the transaction that saves its position
(runtime.relay); publishing more often, its records keep the consumers busy and it says
nothing. A consumer that has been idle polls
the broker only once every ``IdlePacing.idle_period_s``; a ``PublishedListener`` beside it
hears the notification and rings the pacing's ``wake``, so the first event after a quiet
spell reaches it in a broker round trip instead of up to a second later. Under load the
consumer polls back to back and the notifications change nothing.

The word is a hint, never the only way: a notification lost (the listener reconnecting, the
database down) costs at most the idle period, as before.
"""

from __future__ import annotations

import logging
import select
import threading
from collections.abc import Callable, Iterable

import psycopg2
import psycopg2.extensions

from runtime.settings import Settings

log = logging.getLogger(__name__)

CHANNEL = "dist_published"
# How long a listener waits for a notification before it looks whether it was stopped.
STOP_CHECK_S = 1.0
RECONNECT_S = 2.0


def notify_statement(curs: psycopg2.extensions.cursor, topic: str) -> bytes:
    """The statement a relay adds to the transaction that saves its position."""
    return curs.mogrify("SELECT pg_notify(%s, %s)", (CHANNEL, topic))


class PublishedListener:
    """Rings ``wake`` whenever a relay says it published to one of ``topics``. A worker:
    ``run`` in a thread until ``stop``."""

    def __init__(
        self, settings: Settings, topics: Iterable[str], wake: Callable[[], None], *, name: str
    ) -> None:
        self.settings = settings
        self.topics = frozenset(topics)
        self.wake = wake
        self.name = name
        self.stopping = threading.Event()
        self.listening = threading.Event()

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        if not self.settings.database_url:
            return  # a process without the database (the console): idle pacing alone
        while not self.stopping.is_set():
            try:
                self._listen()
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:
                self.listening.clear()
                log.info("%s: not listening for publications (%s)", self.name, error)
                self.stopping.wait(RECONNECT_S)

    def _listen(self) -> None:
        conn = psycopg2.connect(
            self.settings.postgres().dsn(),
            connect_timeout=max(2, self.settings.database_attempt_timeout_s),
            application_name=f"dist-{self.name}-listener"[:63],
        )
        try:
            conn.autocommit = True
            with conn.cursor() as curs:
                curs.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            # Listening began: anything published just before is read by the next poll.
            self.wake()
            while not self.stopping.is_set():
                if select.select([conn], [], [], STOP_CHECK_S) == ([], [], []):
                    continue
                conn.poll()
                ours = any(n.payload in self.topics for n in conn.notifies)
                conn.notifies.clear()
                if ours:
                    self.wake()
        finally:
            self.listening.clear()
            conn.close()


def start_listener(listener: PublishedListener) -> threading.Thread:
    thread = threading.Thread(target=listener.run, name=f"{listener.name}-listener", daemon=True)
    thread.start()
    return thread

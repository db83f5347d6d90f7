"""A rebuild reads and decodes the next poll in a thread while the last one is written
(projections.rebuild.ReadAhead): the items come in order, an error comes where its item would
have, and leaving early stops the reader."""

import threading
import time

import pytest

from projections.rebuild import ReadAhead


def polls_of(*batches):
    yield from batches


class TestReadAhead:
    def test_every_item_in_order(self):
        batches = [[f"ORD-CD-{n:04d}" for n in range(i, i + 3)] for i in range(0, 30, 3)]
        with ReadAhead(polls_of(*batches)) as reader:
            assert list(reader) == batches

    def test_reads_ahead_while_the_last_item_is_being_written(self):
        read = []

        def polls():
            for n in range(3):
                read.append(n)
                yield n

        with ReadAhead(polls(), depth=2) as reader:
            taken = iter(reader)
            assert next(taken) == 0
            deadline = time.monotonic() + 5
            while len(read) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)  # the "write" of item 0, during which 1 and 2 are read
            assert read == [0, 1, 2]
            assert list(taken) == [1, 2]

    def test_an_error_of_the_reader_is_raised_where_its_item_would_be(self):
        def polls():
            yield "poll 1"
            raise ConnectionError("broker gone")

        with ReadAhead(polls()) as reader:
            taken = iter(reader)
            assert next(taken) == "poll 1"
            with pytest.raises(ConnectionError, match="broker gone"):
                next(taken)

    def test_leaving_early_stops_the_reader(self):
        def endless():
            n = 0
            while True:
                n += 1
                yield n

        reader = ReadAhead(endless(), depth=1)
        with pytest.raises(RuntimeError):
            with reader:
                for n in reader:
                    if n == 3:
                        raise RuntimeError("PostgreSQL refused the batch")
        assert not any(t.name == "read-ahead" and t.is_alive() for t in threading.enumerate())

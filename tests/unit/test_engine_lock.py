"""The tests' engine lock (tests/support/engine_lock.py): the lone test waits for the running
ones, and tests that come after it has asked wait for it, so it is not starved."""

import threading
import time
import uuid

from tests.support import engine_lock


def test_the_lone_test_waits_for_running_tests_and_blocks_new_ones():
    run, order = uuid.uuid4().hex, []
    first_in = threading.Event()

    def running():
        with engine_lock.shared(run):
            first_in.set()
            time.sleep(0.5)
            order.append("running ends")

    def lone():
        with engine_lock.alone(run):
            order.append("alone")
            time.sleep(0.3)
            order.append("alone ends")

    def later():
        with engine_lock.shared(run):
            order.append("later")

    threads = [threading.Thread(target=running)]
    threads[0].start()
    first_in.wait(5)
    threads.append(threading.Thread(target=lone))
    threads[1].start()
    time.sleep(0.1)  # the lone one has asked (its pending file exists)
    threads.append(threading.Thread(target=later))
    threads[2].start()
    for thread in threads:
        thread.join(10)
    assert order == ["running ends", "alone", "alone ends", "later"]
    lock, pending = engine_lock.paths(run)
    assert not pending.exists()
    lock.unlink()

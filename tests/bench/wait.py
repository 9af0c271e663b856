"""The benchmarks' one way to wait, as the launcher's poll::until: ask `probe` every `interval`
seconds until it answers, or fail once `limit` seconds have passed."""

import time


def until(probe, what, limit=300.0, interval=0.1):
    """The first truthy value of probe(); TimeoutError naming `what` after `limit` seconds."""
    deadline = time.monotonic() + limit
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not within {limit:.0f} s")
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))

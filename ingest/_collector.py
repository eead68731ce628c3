"""The garbage collector tuned for ingest, which makes thousands of short-lived objects a second."""

from __future__ import annotations

import gc

# Net allocations between collections of the youngest generation (Python: 700). Above what the
# requests in flight hold: eight requests of 1,000 events, waiting for the log, hold about
# 105,000 objects (13 per event), and a young collection walks every one of them.
YOUNG_THRESHOLD = 200_000


def collect_garbage_rarely() -> None:
    """Collect the youngest generation after 200,000 net allocations instead of 700, and move what
    exists now (modules, settings, the registry) out of the collector's sight for good.

    Ingest allocates a few dicts and tuples per event and keeps almost none for long: reference
    counting frees them when their request ends. But Python counts allocations net of frees, so
    what the requests in flight hold counts until they end. Below that much, collections ran
    back to back while requests waited for the log, each walking every object they held, and
    found nothing to free; cycles are still collected, only less often.
    """
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 100)

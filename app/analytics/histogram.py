"""Durations kept as histograms, so medians and p95 over a year read a few hundred rows.

A duration in whole seconds falls in bucket 0 (under one second) or bucket ``b >= 1`` covering
``[RATIO**(b-1), RATIO**b)``. A percentile read back is the geometric middle of its bucket, so it
is within ``(sqrt(RATIO) - 1)`` = 2.5 % of the exact nearest-rank value; seconds up to 2**31
need about 440 buckets, and a day of one milestone uses a few dozen.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping

RATIO = 1.05
_LOG = math.log(RATIO)


def bucket_of(seconds: float) -> int:
    """The bucket of a duration in seconds (negative durations count as 0)."""
    if seconds < 1:
        return 0
    return 1 + int(math.floor(math.log(seconds) / _LOG + 1e-9))


def value_of(bucket: int) -> float:
    """The duration a bucket stands for: the geometric middle of its bounds (0 for bucket 0)."""
    if bucket <= 0:
        return 0.0
    return RATIO ** (bucket - 0.5)


def counts_of(durations: Iterable[float]) -> Counter:
    """Bucket -> how many of ``durations`` fall in it."""
    return Counter(bucket_of(seconds) for seconds in durations)


def percentile(counts: Mapping[int, int], fraction: float) -> float | None:
    """The nearest-rank percentile (``fraction`` of 1) of a histogram, or None when it is empty."""
    total = sum(counts.values())
    if not total:
        return None
    rank = max(math.ceil(fraction * total), 1)
    seen = 0
    for bucket in sorted(counts):
        seen += counts[bucket]
        if seen >= rank:
            return value_of(bucket)
    return value_of(max(counts))  # pragma: no cover (the loop always reaches the rank)

"""Full-jitter backoff: the delay is ``rand() * min(cap, base * 2**(attempt - 1))``."""

from __future__ import annotations

import random

import pytest

from signal_platform.backoff import full_jitter_delay

ALMOST_ONE = 1.0 - 1e-12


@pytest.mark.parametrize("attempt", [1, 2, 3, 8, 30, 64])
def test_full_jitter_delay_rand_zero_is_zero(attempt: int) -> None:
    # GIVEN a random source that returns its lowest value
    # WHEN the delay is computed for any attempt
    delay = full_jitter_delay(attempt, base=0.05, cap=2.0, rand=lambda: 0.0)
    # THEN no time is slept at all (full jitter starts at zero)
    assert delay == 0.0


@pytest.mark.parametrize(
    ("attempt", "base", "cap", "ceiling"),
    [
        (1, 0.05, 2.0, 0.05),
        (2, 0.05, 2.0, 0.10),
        (3, 0.05, 2.0, 0.20),
        (4, 0.05, 2.0, 0.40),
        (6, 0.05, 2.0, 1.60),
        (7, 0.05, 2.0, 2.0),  # 3.2 capped
        (8, 0.05, 2.0, 2.0),
        (64, 0.05, 2.0, 2.0),
        (1, 1.0, 0.5, 0.5),  # a cap below the base wins from the first attempt
        (5, 0.1, 10.0, 1.6),
    ],
)
def test_full_jitter_delay_rand_almost_one_is_just_below_the_capped_ceiling(
    attempt: int, base: float, cap: float, ceiling: float
) -> None:
    # GIVEN a random source at the top of [0, 1)
    # WHEN the delay is computed
    delay = full_jitter_delay(attempt, base=base, cap=cap, rand=lambda: ALMOST_ONE)
    # THEN it is just under min(cap, base * 2**(attempt - 1)) and never reaches it
    assert delay < ceiling
    assert delay == pytest.approx(ceiling, rel=1e-9)


def test_full_jitter_delay_rand_half_doubles_each_attempt_until_the_cap() -> None:
    # GIVEN a constant random draw
    # WHEN successive attempts are computed
    delays = [full_jitter_delay(n, base=0.05, cap=2.0, rand=lambda: 0.5) for n in range(1, 10)]
    # THEN the delay doubles per attempt and then stays at half the cap
    assert delays == pytest.approx([0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])


@pytest.mark.parametrize("attempt", [1, 2, 5, 10, 40])
def test_full_jitter_delay_default_rand_stays_within_zero_and_the_ceiling(attempt: int) -> None:
    # GIVEN the real random source, seeded for repeatability
    random.seed(attempt)
    ceiling = min(2.0, 0.05 * 2 ** (attempt - 1))
    # WHEN many delays are drawn
    delays = [full_jitter_delay(attempt, base=0.05, cap=2.0) for _ in range(500)]
    # THEN every delay is in [0, ceiling) and they are spread out (jittered, not constant)
    assert all(0.0 <= delay < ceiling for delay in delays)
    assert len(set(delays)) > 400
    assert max(delays) > 0.9 * ceiling
    assert min(delays) < 0.1 * ceiling

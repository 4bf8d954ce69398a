#!/usr/bin/env python3
"""Regenerates the request traces in events/traces/ (deterministic: fixed seeds).

Each trace is a `minute,requests` CSV of total requests per minute reaching the ALB, replayed by
`phoenix-ops simulate-scaler --trace FILE` and by the benchmarks.
"""
import math
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "events" / "traces"


def write(name, comment, rows):
    lines = [f"# {comment}", "minute,requests"]
    lines += [f"{m},{max(0, int(r))}" for m, r in enumerate(rows)]
    (OUT / name).write_text("\n".join(lines) + "\n")


def step_spike():
    return [50] * 30 + [950] * 60 + [50] * 90


def slow_ramp():
    up = [20 + (900 - 20) * m / 120 for m in range(120)]
    return up + list(reversed(up))


def spiky_day():
    rng = random.Random(20261125)
    rows = []
    for m in range(1440):
        # quiet at night, busy at 14:00 UTC
        base = 60 + 440 * (1 - math.cos(2 * math.pi * (m - 120) / 1440)) / 2
        rows.append(base * rng.uniform(0.85, 1.15))
    for _ in range(14):
        start, length = rng.randrange(60, 1400), rng.randrange(3, 12)
        extra = rng.uniform(400, 1400)
        for m in range(start, min(1440, start + length)):
            rows[m] += extra
    return rows


def drop_to_zero():
    # a quiet start, a busy hour, then nothing at all (the ALB publishes no datapoints)
    return [30] * 20 + [400] * 60 + [0] * 100


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    write("step-spike.csv", "step spike: 50 req/min, then 950 for an hour, then 50", step_spike())
    write("slow-ramp.csv", "slow ramp: 20 → 900 req/min over two hours and back", slow_ramp())
    write("spiky-day.csv", "a spiky day: diurnal 60–500 req/min, ±15 % noise, 14 short bursts", spiky_day())
    write("drop-to-zero.csv", "30 req/min, a busy hour at 400, then no traffic at all for 100 minutes", drop_to_zero())

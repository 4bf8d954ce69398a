#!/usr/bin/env python3
"""Regenerates the request traces in events/traces/ (deterministic: fixed seeds).

Each trace is a `minute,requests` CSV of total requests per minute reaching the ALB (or
`minute,requests,cpu` with the service's CPU demand in percent of one task: 250 = two and a half
tasks fully busy), replayed by `phoenix-ops simulate-scaler --trace FILE`, the scaler's tests and
the benchmarks. The plots in docs/plots/ are drawn from them: after regenerating, run
`UPDATE_PLOTS=1 cargo test -p phoenix-ops-cli plots` (a test fails while a plot is stale).
"""
import math
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "events" / "traces"


def write(name, comment, rows, cpu=None):
    if cpu is None:
        lines = [f"# {comment}", "minute,requests"]
        lines += [f"{m},{max(0, int(r))}" for m, r in enumerate(rows)]
    else:
        lines = [f"# {comment}", "minute,requests,cpu"]
        lines += [f"{m},{max(0, int(r))},{max(0, int(c))}" for m, (r, c) in enumerate(zip(rows, cpu))]
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


def three_day_cycle():
    # three days of a diurnal load (40 at night, ~600 at 14:00 UTC), each day 8 % busier or
    # quieter than the last, ±12 % noise a minute, a morning rush every day (+250 from 08:00 to
    # 09:30) and a few unannounced bursts a day
    rng = random.Random(20261126)
    days = 3
    scale = [1 + rng.uniform(-0.08, 0.08) for _ in range(days)]
    rows = []
    for m in range(days * 1440):
        day, minute = divmod(m, 1440)
        base = 40 + 560 * (1 - math.cos(2 * math.pi * (minute - 120) / 1440)) / 2
        if 8 * 60 <= minute < 9 * 60 + 30:
            base += 250
        rows.append(base * scale[day] * rng.uniform(0.88, 1.12))
    for _ in range(4 * days):
        start, length = rng.randrange(0, days * 1440 - 20), rng.randrange(3, 12)
        extra = rng.uniform(200, 450)
        for m in range(start, start + length):
            rows[m] += extra
    return rows


def cpu_burn():
    # few requests (≈40/min, one task's worth is 100), but GET /generatecert burns CPU on the
    # single Node thread: demand climbs to 3.5 tasks fully busy for 40 minutes, later jumps to
    # 2.5 tasks for a quarter of an hour
    rng = random.Random(20261127)
    requests, cpu = [], []
    for m in range(240):
        requests.append(40 * rng.uniform(0.8, 1.2))
        if 60 <= m < 70:
            demand = 20 + (350 - 20) * (m - 60) / 10
        elif 70 <= m < 110:
            demand = 350
        elif 150 <= m < 165:
            demand = 250
        else:
            demand = 20
        cpu.append(demand * rng.uniform(0.9, 1.1))
    return requests, cpu


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    write("step-spike.csv", "step spike: 50 req/min, then 950 for an hour, then 50", step_spike())
    write("slow-ramp.csv", "slow ramp: 20 → 900 req/min over two hours and back", slow_ramp())
    write("spiky-day.csv", "a spiky day: diurnal 60–500 req/min, ±15 % noise, 14 short bursts", spiky_day())
    write("drop-to-zero.csv", "30 req/min, a busy hour at 400, then no traffic at all for 100 minutes", drop_to_zero())
    write(
        "three-day-cycle.csv",
        "three days: diurnal 40–600 req/min (±8 % a day, ±12 % a minute), a morning rush +250 08:00–09:30, 12 bursts",
        three_day_cycle(),
    )
    requests, cpu = cpu_burn()
    write("cpu-burn.csv", "CPU burn: ≈40 req/min, CPU demand 20 % → 350 % for 40 min, later 250 % for 15 min", requests, cpu)

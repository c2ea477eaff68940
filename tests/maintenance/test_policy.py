"""decide(): one table row per branch of the policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from check_dell_ups.maintenance.config import parse_config
from check_dell_ups.maintenance.event import Event, parse_perfdata
from check_dell_ups.maintenance.policy import (
    TARGET_HOLD,
    TARGET_MAINTENANCE,
    TARGET_NORMAL,
    decide,
)
from check_dell_ups.maintenance.records import UpsRecord

T0 = datetime(2026, 11, 26, 8, 0, 0, tzinfo=timezone.utc)  # the same as the at() fixture
H1, H2, H3, H4 = (f"hv0{n}.example.com" for n in range(1, 5))
M, N, HOLD = TARGET_MAINTENANCE, TARGET_NORMAL, TARGET_HOLD


def battery(first_seen: int, called: bool = False, on_battery_since: int | None = None,
            last: float | None = None, mains_seen: int | None = None) -> UpsRecord:
    seen = T0 + timedelta(seconds=first_seen)
    return UpsRecord(power="battery", since=seen, first_seen_on_battery=seen,
                     on_battery_since=T0 + timedelta(
                         seconds=first_seen if on_battery_since is None else on_battery_since),
                     called=called, called_at=seen if called else None, last_on_battery=last,
                     last_seen_on_mains=None if mains_seen is None
                     else T0 + timedelta(seconds=mains_seen))


def mains(seen: int) -> UpsRecord:
    """The UPS as the handler stored it after a call with on_battery=0 at T0 + seen."""
    moment = T0 + timedelta(seconds=seen)
    return UpsRecord(power="mains", since=T0 - timedelta(days=3), last_event_at=moment,
                     last_on_battery=0.0, last_seen_on_mains=moment)


MAINS = UpsRecord(power="mains")


@dataclass
class Row:
    name: str
    perfdata: str
    now: int = 0  # seconds after T0
    state: str = "CRITICAL"
    stored: dict[str, UpsRecord] = field(default_factory=dict)
    ups: str = "ups-a"
    expect: dict[str, str] = field(default_factory=dict)
    called: bool | None = None
    power: str | None = None
    modes: dict[str, str] = field(default_factory=dict)


ROWS = [
    Row("on mains, never heard: restore targets", "on_battery=0s;;300", state="OK",
        expect={H1: N, H2: N}, called=False, power="mains"),
    Row("on battery below timer: nothing yet", "on_battery=12s;;300 runtime=1500s charge=80%",
        state="WARNING", expect={H1: HOLD, H2: HOLD}, called=False, power="battery"),
    Row("one second below the timer", "on_battery=299s", expect={H1: HOLD}, called=False),
    Row("exactly at the timer", "on_battery=300s", expect={H1: M, H2: HOLD}, called=True,
        modes={H1: "migrate"}),
    Row("past the timer on first sight", "on_battery=412s;;300 runtime=1500s;600:;300:",
        expect={H1: M}, called=True),
    Row("card reboot: handler's own clock, still below", "on_battery=10s", now=250,
        stored={"ups-a": battery(0, last=100)}, expect={H1: HOLD}, called=False),
    Row("card reboot: handler's own clock reaches timer", "on_battery=10s", now=300,
        stored={"ups-a": battery(0, last=100)}, expect={H1: M}, called=True),
    Row("card reboot after a reported outage start: the timer goes on", "on_battery=10s",
        now=60, stored={"ups-a": battery(0, on_battery_since=-250, last=250)},
        expect={H1: M}, called=True),
    Row("larger on_battery wins over the handler's clock", "on_battery=350s", now=20,
        stored={"ups-a": battery(0)}, expect={H1: M}, called=True),
    Row("timer -1 never calls, floors included", "on_battery=9999s runtime=10s charge=1%",
        ups="ups-never", expect={H4: HOLD}, called=False),
    Row("runtime at the floor", "on_battery=10s runtime=300s", expect={H1: M}, called=True),
    Row("runtime above the floor", "on_battery=10s runtime=301s", expect={H1: HOLD},
        called=False),
    Row("runtime in minutes converted", "on_battery=10s runtime=5min", expect={H1: M},
        called=True),
    Row("charge at the floor", "on_battery=10s charge=20%", expect={H1: M}, called=True),
    Row("charge above the floor", "on_battery=10s charge=21%", expect={H1: HOLD},
        called=False),
    Row("low charge on mains is not an outage", "on_battery=0s charge=5%", state="CRITICAL",
        expect={H1: N, H2: N}, called=False, power="mains"),
    Row("power restored after a called outage, whatever the state", "on_battery=0",
        state="WARNING", stored={"ups-a": battery(0, called=True)}, now=900,
        expect={H1: N, H2: N}, called=False, power="mains"),
    Row("once called, charge back above the floor changes nothing",
        "on_battery=20s charge=90% runtime=3000s", now=40,
        stored={"ups-a": battery(0, called=True)}, expect={H1: M}, called=True),
    Row("silent UPS after battery: timer keeps running, below", "", state="UNKNOWN",
        now=200, stored={"ups-a": battery(0)}, expect={H1: HOLD}, called=False,
        power="battery"),
    Row("silent UPS after battery: timer keeps running, reached", "", state="UNKNOWN",
        now=301, stored={"ups-a": battery(0)}, expect={H1: M}, called=True,
        power="battery"),
    Row("silent UPS: counted from the outage start it reported", "", state="UNKNOWN",
        now=30, stored={"ups-a": battery(0, on_battery_since=-280, last=280)},
        expect={H1: M}, called=True, power="battery"),
    Row("perfdata without on_battery after battery counts as silent", "load=35%",
        state="UNKNOWN", now=400, stored={"ups-a": battery(0)}, expect={H1: M}, called=True),
    Row("silent UPS never seen on battery: nothing", "", state="UNKNOWN",
        expect={H1: HOLD, H2: HOLD}, called=False, power="unknown"),
    Row("silent UPS last on mains stays on mains", "", state="UNKNOWN",
        stored={"ups-a": MAINS}, expect={H1: HOLD}, called=False, power="mains"),
    Row("negative on_battery is garbage, treated as missing", "on_battery=-5s",
        expect={H1: HOLD}, called=False, power="unknown"),
    Row("quoted labels and U values parse", "'on_battery'=412s 'runtime'=U charge=",
        expect={H1: M}, called=True),
    Row("redundant feed: other UPS not heard from counts as mains", "on_battery=400s",
        ups="ups-b", expect={H2: HOLD, H3: M}, called=True),
    Row("redundant feed: other UPS on battery but not calling", "on_battery=400s",
        ups="ups-b", stored={"ups-a": battery(0)}, expect={H2: HOLD, H3: M}),
    Row("redundant feed: every UPS calls", "on_battery=400s", ups="ups-b",
        stored={"ups-a": battery(0, called=True)}, expect={H2: M, H3: M},
        modes={H2: "save", H3: "save"}),
    Row("redundant feed: the UPS on battery longest completes the call", "on_battery=300s",
        ups="ups-a", stored={"ups-b": battery(-100, called=True)}, expect={H1: M, H2: M},
        modes={H1: "migrate", H2: "save"}),
    Row("redundant feed: leaves when any UPS is back on mains", "on_battery=0s",
        ups="ups-b", state="OK", stored={"ups-a": battery(0, called=True)},
        expect={H2: N, H3: N}),
    Row("per-UPS timer override: 600 s", "on_battery=500s", ups="ups-b",
        expect={H3: HOLD}, called=False),
    # A stale counter: the card still counts an earlier outage. No outage is longer than
    # the time since the handler last saw the UPS on mains (DESIGN.md "Decisions").
    Row("stale counter right after an OK: capped by the mains sighting", "on_battery=5000s",
        now=10, stored={"ups-a": mains(0)}, expect={H1: HOLD, H2: HOLD}, called=False,
        power="battery"),
    Row("stale counter: one second before the timer has really run out", "on_battery=5299s",
        now=299, stored={"ups-a": battery(10, on_battery_since=0, last=5000, mains_seen=0)},
        expect={H1: HOLD}, called=False),
    Row("stale counter: the timer has really run out", "on_battery=5300s", now=300,
        stored={"ups-a": battery(10, on_battery_since=0, last=5000, mains_seen=0)},
        expect={H1: M}, called=True),
    Row("counter restarts at 0 after a stale start: the timer goes on", "on_battery=1s",
        now=300, stored={"ups-a": battery(10, on_battery_since=0, last=5000, mains_seen=0)},
        expect={H1: M}, called=True),
    Row("silent UPS after a capped start: the timer goes on", "", state="UNKNOWN", now=300,
        stored={"ups-a": battery(10, on_battery_since=0, last=5000, mains_seen=0)},
        expect={H1: M}, called=True),
    Row("mains seen long ago: a real outage past the timer acts at once", "on_battery=400s",
        now=0, stored={"ups-a": mains(-7200)}, expect={H1: M}, called=True),
    Row("first called late in a real outage, never saw mains: acts at once",
        "on_battery=5000s", now=0, stored={"ups-a": UpsRecord(power="mains")},
        expect={H1: M}, called=True),
    Row("floors still act at once within the cap", "on_battery=5000s runtime=120s", now=10,
        stored={"ups-a": mains(0)}, expect={H1: M}, called=True),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
@pytest.mark.parametrize("state_type", ["SOFT", "HARD"])
def test_decide(row: Row, state_type: str, make_config, at) -> None:
    config = make_config(ups={
        "ups-a": {"hosts": [H1, H2]},
        "ups-b": {"hosts": [H2, H3], "timer": 600, "mode": "save"} if "override" in row.name
        else {"hosts": [H2, H3], "mode": "save"},
        "ups-never": {"hosts": [H4], "timer": -1},
    }, timer=300, runtime_floor=300, charge_floor=20)
    event = Event(ups=row.ups, service_state=row.state, state_type=state_type,
                  attempt=1 if state_type == "SOFT" else 3,
                  metrics=parse_perfdata(row.perfdata))
    decision = decide(event, row.stored, config, at(row.now))
    for host, target in row.expect.items():
        assert decision.targets[host] == target, decision.reasons
    if row.called is not None:
        assert decision.ups_record.called is row.called
    if row.power is not None:
        assert decision.ups_record.power == row.power
    for host, mode in row.modes.items():
        assert decision.modes[host] == mode
    assert decision.reasons  # every decision carries its reason for the log


def test_decide_is_pure(make_config, at) -> None:
    config = make_config()
    stored = {"ups-a": battery(0)}
    event = Event("ups-a", "CRITICAL", metrics=parse_perfdata("on_battery=400s"))
    first = decide(event, stored, config, at(400))
    second = decide(event, stored, config, at(400))
    assert first == second
    assert stored == {"ups-a": battery(0)}  # the input is not modified


def test_first_sighting_is_remembered_across_calls(make_config, at) -> None:
    config = make_config()
    event = Event("ups-a", "WARNING", metrics=parse_perfdata("on_battery=100s"))
    first = decide(event, {}, config, at(0))
    assert first.ups_record.first_seen_on_battery == at(0)
    assert first.ups_record.on_battery_since == at(-100)
    rebooted = Event("ups-a", "WARNING", metrics=parse_perfdata("on_battery=5s"))
    later = decide(rebooted, {"ups-a": first.ups_record}, config, at(310))
    assert later.targets["hv01.example.com"] == TARGET_MAINTENANCE
    assert later.ups_record.first_seen_on_battery == at(0)
    assert later.ups_record.on_battery_since == at(-100)  # the outage start never moves later


def test_a_stale_counter_after_ok_triggers_nothing_before_the_timer(make_config, at) -> None:
    """The issue's case, call by call: OK at 0, then a new outage whose first result
    carries the card's 5000 s from an earlier outage."""
    config = make_config(timer=300)
    seen_mains = decide(Event("ups-a", "OK", metrics=parse_perfdata("on_battery=0s")), {},
                        config, at(0)).ups_record
    assert seen_mains.last_seen_on_mains == at(0)
    stored = {"ups-a": seen_mains}
    for now in range(5, 300, 30):
        event = Event("ups-a", "CRITICAL", metrics=parse_perfdata(f"on_battery={5000 + now}s"))
        decision = decide(event, stored, config, at(now))
        assert decision.targets["hv01.example.com"] == TARGET_HOLD, decision.reasons
        assert decision.time_on_battery == now
        stored = {"ups-a": decision.ups_record}
    assert "capped: seen on mains at" in decision.reasons[0]
    late = decide(Event("ups-a", "CRITICAL", metrics=parse_perfdata("on_battery=5300s")),
                  stored, config, at(300))
    assert late.targets["hv01.example.com"] == TARGET_MAINTENANCE


def test_power_restored_clears_the_outage(make_config, at) -> None:
    config = make_config()
    restored = decide(Event("ups-a", "OK", metrics=parse_perfdata("on_battery=0")),
                      {"ups-a": battery(0, called=True)}, config, at(1000))
    record = restored.ups_record
    assert (record.power, record.called, record.first_seen_on_battery) == ("mains", False, None)
    # The next outage starts its timer afresh.
    again = decide(Event("ups-a", "WARNING", metrics=parse_perfdata("on_battery=5")),
                   {"ups-a": record}, config, at(1100))
    assert again.targets["hv01.example.com"] == TARGET_HOLD
    assert again.ups_record.first_seen_on_battery == at(1100)


# --- invariants over random event sequences -------------------------------------------

_EVENT = st.tuples(
    st.integers(min_value=0, max_value=120),  # seconds since the previous event
    # on_battery; 5000 and more: a stale counter still counting an earlier outage
    st.one_of(st.none(), st.integers(min_value=0, max_value=900),
              st.integers(min_value=5000, max_value=6000)),
    st.one_of(st.none(), st.integers(min_value=0, max_value=3000)),  # runtime
    st.one_of(st.none(), st.integers(min_value=0, max_value=100)),  # charge
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_EVENT, min_size=1, max_size=25))
def test_invariants_over_event_sequences(events) -> None:
    config = parse_config({
        "scvmm": {"server": "vmm01.example.com", "username": "svc"},
        "maintenance": {"timer": 300, "runtime_floor": 300, "charge_floor": 20},
        "ups": {"ups-a": {"hosts": [H1]}},
    })
    stored: dict[str, UpsRecord] = {}
    now = 0
    previous_time: float | None = None
    last_mains: int | None = None  # when an event last said on_battery=0
    floor_reached = False  # runtime or charge at its floor since then
    for gap, on_battery, runtime, charge in events:
        now += gap
        floor_reached = floor_reached or (runtime is not None and runtime <= 300) or (
            charge is not None and charge <= 20)
        items = [f"{label}={value}{unit}" for label, value, unit in (
            ("on_battery", on_battery, "s"), ("runtime", runtime, "s"),
            ("charge", charge, "%")) if value is not None]
        event = Event("ups-a", "WARNING", metrics=parse_perfdata(" ".join(items)))
        before = stored.get("ups-a")
        decision = decide(event, stored, config, T0 + timedelta(seconds=now))
        record = decision.ups_record
        if on_battery == 0:
            # Power restored exactly when on_battery is 0.
            assert set(decision.targets.values()) == {N}
            assert not record.called and record.power == "mains"
            previous_time = None
            last_mains, floor_reached = now, False
        else:
            assert N not in decision.targets.values()
            if before is not None and before.power == "battery" and before.called:
                # Once called for, never undone before power returns.
                assert record.called and decision.targets[H1] == M
            if record.power == "battery":
                # The time on battery never goes backwards within an outage.
                assert decision.time_on_battery is not None
                if previous_time is not None:
                    assert decision.time_on_battery >= previous_time + gap - 1e-6
                previous_time = decision.time_on_battery
                if decision.time_on_battery >= 300:
                    assert record.called
                if last_mains is not None:
                    # Never more time on battery than has passed since mains was seen,
                    # so no call before the timer has really run out (floors aside).
                    assert decision.time_on_battery <= now - last_mains
                    if now - last_mains < 300 and not floor_reached:
                        assert not record.called
                elif on_battery is not None:
                    # Never saw mains (first called late in a real outage): the counter
                    # is trusted, so a counter past the timer acts at once.
                    assert decision.time_on_battery >= on_battery
        stored = {"ups-a": record}

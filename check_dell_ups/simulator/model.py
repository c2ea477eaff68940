"""The simulated Dell UPS itself: power state, battery, alarms and the management card.

Pure code, no I/O. Time comes from an injectable clock (seconds, monotonic), so tests
can drive hours of battery drain in microseconds. Between two events every rate is
constant, so the state is advanced lazily and exactly when it is read or changed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

Clock = Callable[[], float]

# Runtime estimates saturate here, as on real cards ("at least 65535 s").
RUNTIME_SATURATION_SECONDS = 65535
# Recharging from empty takes this many times as long as a full discharge at the
# reference load (real UPSes recharge far slower than they discharge).
RECHARGE_SLOWNESS = 2.0
# Loads below this are treated as this for runtime, so runtime stays finite.
MINIMUM_EFFECTIVE_LOAD = 1.0


@dataclass(frozen=True)
class AlarmKind:
    """One alarm condition as both MIBs report it."""

    name: str
    well_known: int  # N of the UPS-MIB well-known alarm 1.3.6.1.2.1.33.1.6.3.N
    dell_trap: int | None  # number in the DELL-SNMP-UPS-MIB alarm string, if any
    critical: bool  # drives productStatusGlobalStatus: critical(5) vs non-critical(4)
    settable: bool  # False: derived from the power state, not set by hand


ALARM_KINDS: dict[str, AlarmKind] = {
    kind.name: kind
    for kind in (
        AlarmKind("on_battery", 2, 57, critical=False, settable=False),
        AlarmKind("low_battery", 3, 43, critical=True, settable=False),
        AlarmKind("depleted_battery", 4, 41, critical=True, settable=False),
        AlarmKind("replace_battery", 1, 63, critical=False, settable=True),
        AlarmKind("over_temperature", 5, 51, critical=False, settable=True),
        AlarmKind("overload", 8, 19, critical=True, settable=True),
        AlarmKind("bypass", 9, 59, critical=False, settable=True),
        AlarmKind("charger_failed", 13, 37, critical=True, settable=True),
        AlarmKind("output_off", 14, 71, critical=True, settable=True),
        AlarmKind("fan_failure", 16, 65, critical=False, settable=True),
        AlarmKind("general_fault", 18, None, critical=True, settable=True),
        AlarmKind("self_test_failed", 19, None, critical=False, settable=True),
        AlarmKind("shutdown_imminent", 23, 41, critical=True, settable=True),
        AlarmKind("test_in_progress", 24, 61, critical=False, settable=False),
    )
}
SETTABLE_ALARMS = tuple(name for name, kind in ALARM_KINDS.items() if kind.settable)


@dataclass(frozen=True)
class ActiveAlarm:
    """A row of upsAlarmTable: its id and when (clock time) the card noticed it."""

    alarm_id: int
    kind: AlarmKind
    since: float


# The tests a UPS runs from its own schedule or on request, with their UPS-MIB names
# (upsWellKnownTests): both run the load from the battery while the mains stays there.
TEST_KINDS = {"self-test": "upsTestQuickBatteryTest",
              "calibration": "upsTestDeepBatteryCalibration"}
# How a test ended: upsTestResultsSummary donePass(1), doneError(3), aborted(4).
TEST_RESULTS = ("passed", "failed", "aborted")


@dataclass(frozen=True)
class BatteryTest:
    """The test that runs or last ran: its kind, when it started, how it ended."""

    kind: str  # a key of TEST_KINDS
    started_at: float  # model clock
    seconds: float  # how long it runs if nothing stops it
    fails: bool = False  # ends failed (DiagnosticTestFailed) instead of passed
    result: str | None = None  # None while it runs, else one of TEST_RESULTS
    ended_at: float | None = None

    @property
    def ends_at(self) -> float:
        return self.started_at + self.seconds


@dataclass(frozen=True)
class UpsReading:
    """Everything the card reports, at one instant (so one SNMP answer is consistent)."""

    mains: bool
    charge: float  # %
    runtime_seconds: int
    load: float  # % of the rated output power
    seconds_on_battery: int  # as the card counts it: restarts when the card reboots
    outage_seconds: float  # the true time since the mains went, 0 on mains
    card_uptime_seconds: float
    alarms: tuple[ActiveAlarm, ...]
    input_line_bads: int
    temperature: float  # probe temperature, °C
    low_battery_minutes: int
    full_runtime: int
    clock_now: float  # model-clock time of this reading (alarm times are on this clock)
    load_on_battery: bool = False  # an outage, or a test with the mains present
    test: BatteryTest | None = None  # the running or the last test; None: never one

    @property
    def test_running(self) -> bool:
        return self.test is not None and self.test.result is None

    @property
    def alarm_names(self) -> tuple[str, ...]:
        return tuple(alarm.kind.name for alarm in self.alarms)

    def has_alarm(self, name: str) -> bool:
        return name in self.alarm_names


class UpsModel:
    """State machine of the UPS and its Network Management Card.

    `full_runtime` is the runtime in seconds at 100 % charge and the initial load (the
    reference load); runtime scales with charge and inversely with load. On battery the
    runtime falls by `drain_speed` seconds per second; on mains the battery recharges.
    """

    def __init__(
        self,
        *,
        full_runtime: int = 1800,
        load: float = 35.0,
        drain_speed: float = 1.0,
        clock: Clock = time.monotonic,
        low_battery_minutes: int = 3,
        charge: float = 100.0,
        temperature: float = 24.5,
    ) -> None:
        if full_runtime <= 0:
            raise ValueError("full_runtime must be positive")
        if drain_speed <= 0:
            raise ValueError("drain_speed must be positive")
        self._clock = clock
        self._lock = threading.RLock()  # read by the SNMP thread, changed by others
        now = clock()
        self._updated_at = now
        self._card_booted_at = now
        self._on_battery_since: float | None = None  # the mains went
        # The load went to the battery (outage or test): upsSecondsOnBattery counts from
        # here, "since the UPS last switched to battery power" (RFC 1628).
        self._load_on_battery_since: float | None = None
        self._test: BatteryTest | None = None
        self._full_runtime = full_runtime
        self._reference_load = max(load, MINIMUM_EFFECTIVE_LOAD)
        self._load = _check_percent(load, "load", upper=200.0)
        self._charge = _check_percent(charge, "charge")
        self._drain_speed = drain_speed
        self._low_battery_minutes = low_battery_minutes
        self._temperature = temperature
        self._alarms: list[ActiveAlarm] = []
        self._next_alarm_id = 1
        self._input_line_bads = 0
        # The stale-counter quirk: the next time the load goes to battery, the card reports
        # (value, for this many seconds) before it counts afresh.
        self._stale_counter: tuple[int, float] | None = None
        self._stale_until: float | None = None

    # ----- reading -----------------------------------------------------------------

    def reading(self) -> UpsReading:
        with self._lock:
            now = self._clock()
            self._advance(now)
            return UpsReading(
                mains=self._on_battery_since is None,
                charge=self._charge,
                runtime_seconds=self._runtime_seconds(),
                load=self._load,
                seconds_on_battery=self._seconds_on_battery(now),
                outage_seconds=(
                    0.0 if self._on_battery_since is None else now - self._on_battery_since
                ),
                card_uptime_seconds=max(0.0, now - self._card_booted_at),
                alarms=tuple(self._alarms),
                input_line_bads=self._input_line_bads,
                temperature=self._temperature,
                low_battery_minutes=self._low_battery_minutes,
                full_runtime=self._full_runtime,
                clock_now=now,
                load_on_battery=self._load_on_battery_since is not None,
                test=self._test,
            )

    # ----- events ------------------------------------------------------------------

    def cut_mains(self) -> None:
        with self._lock:
            now = self._clock()
            self._advance(now)
            if self._on_battery_since is None:
                self._on_battery_since = now
                self._input_line_bads += 1
                if self._load_on_battery_since is None:
                    self._load_on_battery_since = now
                self._raise("on_battery", now)
            if self._test is not None and self._test.result is None:
                # The UPS stops its test (aborted) and keeps the load on the battery it
                # already runs from: the counter goes on from the test's start.
                self._end_test("aborted", now)
            self._reconcile(now)

    def restore_mains(self) -> None:
        with self._lock:
            now = self._clock()
            self._advance(now)
            self._on_battery_since = None
            if self._test is None or self._test.result is not None:
                self._load_on_battery_since = None
            self._reconcile(now)

    def start_test(self, kind: str, seconds: float, fails: bool = False) -> None:
        """A battery test ("self-test") or runtime calibration ("calibration"): the load
        runs from the battery for `seconds` with the mains present, then goes back."""
        if kind not in TEST_KINDS:
            raise ValueError(f"unknown test {kind!r}; tests: {', '.join(TEST_KINDS)}")
        if not seconds > 0:
            raise ValueError("a test lasts a positive number of seconds")
        with self._lock:
            now = self._clock()
            self._advance(now)
            if self._on_battery_since is not None:
                raise ValueError("the UPS runs no test without mains")
            if self._test is not None and self._test.result is None:
                raise ValueError(f"a {self._test.kind} is already running")
            self._test = BatteryTest(kind, now, float(seconds), fails=fails)
            self._load_on_battery_since = now
            self._clear("self_test_failed")  # a new test replaces the last result
            self._reconcile(now)

    def stale_counter(self, seconds: int, for_seconds: float = 5.0) -> None:
        """A card quirk: in the first `for_seconds` of the next outage or test, the card's
        upsSecondsOnBattery still reads `seconds` (the count of an earlier outage)."""
        if seconds < 0 or for_seconds <= 0:
            raise ValueError("a stale counter needs seconds >= 0 and a positive duration")
        with self._lock:
            self._stale_counter = (int(seconds), float(for_seconds))

    def reboot_card(self) -> None:
        """The management card restarts; the UPS itself keeps running.

        sysUpTime and the card's seconds-on-battery counter restart at 0, and the card
        rebuilds its alarm table from scratch (new ids, times near 0).
        """
        with self._lock:
            now = self._clock()
            self._advance(now)
            self._card_booted_at = now
            self._alarms = [
                ActiveAlarm(index + 1, alarm.kind, now) for index, alarm in enumerate(self._alarms)
            ]
            self._next_alarm_id = len(self._alarms) + 1

    def set_load(self, percent: float) -> None:
        with self._lock:
            now = self._clock()
            self._advance(now)
            self._load = _check_percent(percent, "load", upper=200.0)
            self._reconcile(now)

    def set_charge(self, percent: float) -> None:
        with self._lock:
            now = self._clock()
            self._advance(now)
            self._charge = _check_percent(percent, "charge")
            self._reconcile(now)

    def set_temperature(self, celsius: float) -> None:
        with self._lock:
            self._temperature = float(celsius)

    def set_alarm(self, name: str, active: bool) -> None:
        kind = ALARM_KINDS.get(name)
        if kind is None or not kind.settable:
            raise ValueError(
                f"unknown alarm {name!r}; settable alarms: {', '.join(SETTABLE_ALARMS)}"
            )
        with self._lock:
            now = self._clock()
            self._advance(now)
            if active:
                self._raise(name, now)
            else:
                self._clear(name)

    # ----- internals ---------------------------------------------------------------

    def _seconds_for_full_charge(self) -> float:
        """Runtime at 100 % charge at the present load, in seconds."""
        effective_load = max(self._load, MINIMUM_EFFECTIVE_LOAD)
        return self._full_runtime * self._reference_load / effective_load

    def _runtime_seconds(self) -> int:
        runtime = self._seconds_for_full_charge() * self._charge / 100.0
        # The epsilon keeps float noise (1199.9999...) from costing a whole second.
        return min(int(runtime + 1e-6), RUNTIME_SATURATION_SECONDS)

    def _seconds_on_battery(self, now: float) -> int:
        if self._load_on_battery_since is None:
            return 0
        if self._stale_counter is not None and self._stale_until is None:
            lasting = self._stale_counter[1]
            self._stale_until = self._load_on_battery_since + lasting
        if self._stale_until is not None and self._stale_counter is not None:
            if now < self._stale_until:
                return self._stale_counter[0]
            self._stale_counter = self._stale_until = None  # once, for one outage
        # The card counts from when *it* saw the load go to battery: a reboot restarts it.
        counting_since = max(self._load_on_battery_since, self._card_booted_at)
        return int(max(0.0, now - counting_since))

    def _low_battery_charge(self) -> float:
        """Charge (%) below which the runtime is under upsConfigLowBattTime."""
        return self._low_battery_minutes * 60 * 100.0 / self._seconds_for_full_charge()

    def _advance(self, now: float) -> None:
        """Integrate drain or recharge from the last update to `now`; a test that ends in
        between ends at its own moment (drain before it, recharge after)."""
        test = self._test
        if test is not None and test.result is None and test.ends_at <= now:
            self._integrate(test.ends_at)
            self._end_test("failed" if test.fails else "passed", test.ends_at)
        self._integrate(now)

    def _end_test(self, result: str, when: float) -> None:
        assert self._test is not None
        self._test = replace(self._test, result=result, ended_at=when)
        if self._on_battery_since is None:
            self._load_on_battery_since = None  # the load goes back to the mains
        if result == "failed":
            self._raise("self_test_failed", when)
        self._reconcile(when)

    def _integrate(self, now: float) -> None:
        elapsed = now - self._updated_at
        if elapsed <= 0:
            return
        start = self._updated_at
        self._updated_at = now
        if self._load_on_battery_since is None:
            recharge_per_second = (
                100.0 * self._drain_speed / (self._full_runtime * RECHARGE_SLOWNESS)
            )
            self._charge = min(100.0, self._charge + recharge_per_second * elapsed)
            return
        drain_per_second = 100.0 * self._drain_speed / self._seconds_for_full_charge()
        before = self._charge
        after = max(0.0, before - drain_per_second * elapsed)
        self._charge = after
        # The alarms carry the moment the threshold was crossed, not the moment of reading.
        low = self._low_battery_charge()
        if after < low <= before:
            self._raise("low_battery", start + (before - low) / drain_per_second)
        if after <= 0.0 < before:
            self._raise("depleted_battery", start + before / drain_per_second)
        self._reconcile(now)

    def _reconcile(self, now: float) -> None:
        """Derived alarms follow the power state, the test and the battery."""
        on_battery = self._load_on_battery_since is not None
        self._set_derived("on_battery", on_battery, now)
        self._set_derived("test_in_progress",
                          self._test is not None and self._test.result is None, now)
        runtime_low = self._runtime_seconds() < self._low_battery_minutes * 60
        self._set_derived("low_battery", on_battery and runtime_low, now)
        self._set_derived("depleted_battery", on_battery and self._charge <= 0.0, now)

    def _set_derived(self, name: str, active: bool, now: float) -> None:
        if active:
            self._raise(name, now)
        else:
            self._clear(name)

    def _raise(self, name: str, when: float) -> None:
        if any(alarm.kind.name == name for alarm in self._alarms):
            return
        # An alarm cannot predate the card's boot: the card only saw it after booting.
        when = max(when, self._card_booted_at)
        self._alarms.append(ActiveAlarm(self._next_alarm_id, ALARM_KINDS[name], when))
        self._next_alarm_id += 1

    def _clear(self, name: str) -> None:
        self._alarms = [alarm for alarm in self._alarms if alarm.kind.name != name]


def _check_percent(value: float, what: str, upper: float = 100.0) -> float:
    number = float(value)
    if not 0.0 <= number <= upper:
        raise ValueError(f"{what} must be between 0 and {upper:g} %, got {value}")
    return number

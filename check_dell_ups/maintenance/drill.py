"""--drill HOST [--yes]: the configuration test without cutting the power.

One configured host goes into maintenance as in an outage and comes back as on power
return, through the handler's own Reconciler (its public run() with targets, as an event
does), so mode, save fallback, vmm_host order and on_power_restored all apply. Every step
is printed with each job's result and duration, and logged to log_file. Without --yes
it only reads SCVMM and says what it would do.

Refused: a host in maintenance, one with work pending (its record not normal), and any
host while a UPS is on battery (a real outage owns the hosts then). The UPS records,
the outage state, are never written: the drill stores only the host's record, as the
handler does, and leaves it normal. The lock is taken per step, not for the whole
drill, so a real event can run in between; a UPS on battery stops the drill, and the
handler takes over the host.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone

from check_dell_ups.maintenance.config import Config
from check_dell_ups.maintenance.driver import HostInfo, ScvmmDriver, ScvmmError
from check_dell_ups.maintenance.log import HandlerLog
from check_dell_ups.maintenance.policy import TARGET_MAINTENANCE, TARGET_NORMAL
from check_dell_ups.maintenance.reconcile import Reconciler
from check_dell_ups.maintenance.records import HostRecord
from check_dell_ups.maintenance.state import StateError, StateStore

# One step (into maintenance, or back) may take this long: live migrations are slow.
STEP_SECONDS = 1800.0
# Each Reconciler.run gets this long before the lock is given to a waiting event.
ROUND_SECONDS = 20.0
_LOCK_WAIT = 30.0
_PAUSE = 0.5


class DrillRefused(Exception):  # noqa: N818 - a refusal, not a fault
    """One-line reason the drill does not start (or stops)."""


class DrillLog(HandlerLog):
    """The handler's log (log_file and syslog, "drill: " in front) that also prints each
    entry on stdout, and how long each job took when it ends."""

    def __init__(self, log_file: str | None, out: Callable[[str], None],
                 clock: Callable[[], float] = time.monotonic, **options) -> None:
        super().__init__(log_file, prefix="drill: ", **options)
        self.out = out
        self.clock = clock
        self.started = clock()
        self._job_seen: dict[str, float] = {}

    def _emit(self, level: int, message: str, ups: str | None, host: str | None,
              job: str | None) -> None:
        super()._emit(level, message, ups, host, job)
        words = " ".join(message.split())
        if job and job not in self._job_seen:
            self._job_seen[job] = self.clock()
        ended = job and any(word in words for word in ("job ended", "completed", "failed"))
        if ended and job in self._job_seen and "started" not in words:
            words += f" (after {self.clock() - self._job_seen.pop(job):.1f}s)"
        mark = "ERROR " if level >= logging.ERROR else ""
        where = f"{host}: " if host else ""
        self.out(f"  {self.clock() - self.started:6.1f}s  {mark}{where}{words}"
                 + (f" [job {job}]" if job else ""))

    def quietly(self, level: int, message: str, host: str | None = None) -> None:
        """Into log_file and syslog only (the caller prints its own line)."""
        super()._emit(level, message, None, host, None)

    def say(self, text: str) -> None:
        """A line of the drill itself: on stdout and in the log."""
        self.out(text)
        with_fields = " ".join(text.split())
        super()._emit(logging.INFO, with_fields, None, None, None)


def check_drill(config: Config, store: StateStore, host: str) -> HostRecord:
    """The refusals that need no SCVMM; returns the host's record."""
    if host not in config.all_hosts():
        raise DrillRefused(f"{host} is not a configured host (not in any [ups] table's hosts)")
    on_battery_refusal(config, store)
    try:
        record = store.load_host(host, keep_aside=False)
    except StateError as error:
        raise DrillRefused(str(error)) from None
    if record.phase != "normal":
        raise DrillRefused(f"{host} has work pending or is not normal in the handler's "
                           f"record (phase {record.phase}; see --status)")
    return record


def on_battery_refusal(config: Config, store: StateStore) -> None:
    for ups in config.ups:
        try:
            record = store.load_ups(ups, keep_aside=False)
        except StateError as error:
            raise DrillRefused(f"UPS {ups}: {error}") from None
        if record.power == "battery":
            raise DrillRefused(f"UPS {ups} is on battery: no drill during an outage")


def run_drill(config: Config, store: StateStore, host: str, *, yes: bool,
              connect: Callable[[], ScvmmDriver], log: DrillLog,
              step_seconds: float = STEP_SECONDS) -> bool:
    """The drill; True when the host went into maintenance and came back as configured.
    Raises DrillRefused (nothing done) or returns False (a step failed)."""
    check_drill(config, store, host)
    feeding = config.ups_of_host(host)
    mode = "save" if any(config.ups[name].mode == "save" for name in feeding) else "migrate"
    restore = config.maintenance.on_power_restored
    info, vms = _read_host(connect, host)
    plan = _plan(config, host, info, mode, restore)
    log.say(f"drill of {host} (UPS {', '.join(feeding)}, "
            f"cluster {info.cluster or 'none: stand-alone'}, mode {mode}, "
            f"on_power_restored {restore})")
    log.say(f"  {vms}")
    for line in plan:
        log.say(f"  {line}")
    if not yes:
        log.say("nothing done: add --yes to run the drill")
        return True

    log.say("step 1/2: into maintenance, as when the timer runs out on battery")
    record = _step(config, store, host, TARGET_MAINTENANCE, done=("maintenance",),
                   connect=connect, log=log, ups=feeding[0], step_seconds=step_seconds)
    if record.phase != "maintenance":
        log.say(f"drill FAILED: {host} did not reach maintenance (phase {record.phase}"
                f"{': ' + record.error if record.error else ''}); see --status")
        return False
    log.say(f"step 2/2: back, as when power returns (on_power_restored={restore})")
    wanted = ("admin",) if restore == "none" else ("normal",)
    record = _step(config, store, host, TARGET_NORMAL, done=wanted, connect=connect, log=log,
                   ups=feeding[0], step_seconds=step_seconds)
    if record.phase not in wanted:
        log.say(f"drill FAILED: {host} did not come back (phase {record.phase}"
                f"{': ' + record.error if record.error else ''}); see --status")
        return False
    if restore == "none":
        log.say(f"drill done in {log.clock() - log.started:.1f}s: {host} left in maintenance "
                "and handed to the admins, as on_power_restored=none does")
    else:
        log.say(f"drill passed in {log.clock() - log.started:.1f}s: {host} went into "
                "maintenance and came back")
    return True


def _read_host(connect: Callable[[], ScvmmDriver], host: str) -> tuple[HostInfo, str]:
    """The host as SCVMM sees it, and a line about its VMs."""
    try:
        driver = connect()
    except ScvmmError as error:
        raise DrillRefused(f"SCVMM: {error}") from None
    try:
        info = driver.get_hosts([host]).get(host)
        if not isinstance(info, HostInfo):
            raise DrillRefused(f"SCVMM cannot read {host}: {info or 'no answer'}")
        if info.in_maintenance:
            raise DrillRefused(f"{host} is in maintenance already (OverallState "
                               f"{info.overall_state}): no drill")
        try:
            running = [vm.name for vm in driver.get_vms(host) if vm.state == "Running"]
            vms = f"VMs running on {host}: {', '.join(running) or 'none'}"
        except ScvmmError as error:
            vms = f"VMs of {host} cannot be read: {error}"
        return info, vms
    except ScvmmError as error:
        raise DrillRefused(f"SCVMM: {error}") from None
    finally:
        with contextlib.suppress(ScvmmError):
            driver.close()


def _plan(config: Config, host: str, info: HostInfo, mode: str, restore: str) -> list[str]:
    move = mode == "migrate" and info.cluster is not None
    lines = [
        "1. Disable-SCVMHost " + ("-MoveWithinCluster: live-migrate HA VMs, save the rest; "
                                  "a failed migration falls back to saving"
                                  if move else "(save all running VMs)"),
    ]
    if restore == "none":
        lines.append("2. nothing: on_power_restored=none leaves it in maintenance for the "
                     "admins")
    else:
        lines.append("2. Enable-SCVMHost" + (", then start the VMs we saved"
                                              if restore == "exit-and-start" else ""))
    if host == config.scvmm.vmm_host:
        lines.append("note: this is the vmm_host; SCVMM's own VM moves or is saved with it")
    if info.communication_state not in (None, "Responding"):
        lines.append(f"note: SCVMM reports CommunicationState {info.communication_state}")
    return lines


def _step(config: Config, store: StateStore, host: str, target: str, *,
          done: tuple[str, ...], connect: Callable[[], ScvmmDriver], log: DrillLog, ups: str,
          step_seconds: float) -> HostRecord:
    """Run the Reconciler towards target until the host's record is in a done phase (or
    failed), round by round, taking the lock for each round."""
    ends = time.monotonic() + step_seconds
    while True:
        with store.locked(_LOCK_WAIT):
            if target == TARGET_MAINTENANCE:
                on_battery_refusal(config, store)  # a real outage began: the handler's now
            else:
                try:
                    on_battery_refusal(config, store)
                except DrillRefused as refusal:
                    raise DrillRefused(f"{refusal}; {host} stays in maintenance for the "
                                       "handler to bring back on power return") from None
            deadline = min(ends, time.monotonic() + ROUND_SECONDS)
            reconciler = Reconciler(config=config, store=store, log=log, connect=connect,
                                    deadline=deadline, ups=ups,
                                    clock=lambda: datetime.now(timezone.utc))
            outcome = reconciler.run({host: target}, {})
        record = outcome.records.get(host) or store.load_host(host, keep_aside=False)
        if record.phase in done or record.phase == "failed":
            return record
        if outcome.errors and not outcome.in_progress and record.phase == "normal":
            return record  # refused before anything started
        if time.monotonic() >= ends:
            log.say(f"  {host}: still {record.phase} after {step_seconds:.0f}s: giving up "
                    "(--retry-pending finishes it)")
            return record
        time.sleep(_PAUSE)

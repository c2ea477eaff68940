"""The decision: which hosts should be in maintenance now. A pure function.

decide(event, stored_state, config, now) looks only at its arguments: no clock, no
files, no SCVMM. It returns the UPS record to store and, per host of the UPS, a target:
  maintenance - every UPS feeding the host calls for maintenance: get it there;
  normal      - this UPS reports mains power: power restored, bring back what we did;
  hold        - nothing new is called for: only finish work already under way.
The reconciler compares the targets with SCVMM and its host records and does the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from check_dell_ups.maintenance import lifecycle
from check_dell_ups.maintenance.config import Config
from check_dell_ups.maintenance.event import Event
from check_dell_ups.maintenance.records import WANT_MAINTENANCE, WANT_NORMAL, HostRecord, UpsRecord

TARGET_MAINTENANCE = "maintenance"
TARGET_NORMAL = "normal"
TARGET_HOLD = "hold"


@dataclass(frozen=True)
class Decision:
    ups: str
    ups_record: UpsRecord  # store this for the UPS
    targets: Mapping[str, str]  # host -> maintenance | normal | hold
    modes: Mapping[str, str]  # host -> migrate | save, for the hosts to enter
    reasons: tuple[str, ...]  # one line per decision, for the log
    summary: str  # a short phrase for the one-line output
    time_on_battery: float | None = None

    @property
    def power_restored(self) -> bool:
        return any(target == TARGET_NORMAL for target in self.targets.values())


def decide(event: Event, stored_state: Mapping[str, UpsRecord], config: Config,
           now: datetime) -> Decision:
    ups_config = config.ups[event.ups]
    previous = stored_state.get(event.ups) or UpsRecord()
    on_battery = event.on_battery
    if on_battery is not None and on_battery < 0:
        on_battery = None  # garbage: treat like a missing value

    if on_battery is not None and on_battery == 0:
        return _power_restored(event, previous, config, now)
    if on_battery is None and previous.power != "battery":
        record = UpsRecord(
            power=previous.power, since=previous.since, last_event_at=now,
            last_on_battery=None, last_seen_on_mains=previous.last_seen_on_mains,
        )
        why = ("no on_battery value and not known to be on battery: nothing to do"
               f" ({event.service_state})")
        return Decision(
            ups=event.ups, ups_record=record,
            targets=dict.fromkeys(ups_config.hosts, TARGET_HOLD), modes={},
            reasons=(f"{event.ups}: {why}",), summary=why,
        )

    # On battery, reported now or (silent UPS) last known. The outage began at the
    # earliest moment we know of: our first sighting, or earlier when on_battery (now or
    # at any earlier call) said so. A card reboot restarts on_battery, not this.
    first_seen = previous.first_seen_on_battery if previous.power == "battery" else None
    first_seen = first_seen or now
    outage_start = first_seen
    if previous.power == "battery" and previous.on_battery_since is not None:
        outage_start = min(outage_start, previous.on_battery_since)
    if on_battery is None:
        source = "no on_battery value; UPS last known on battery, timer keeps running"
    else:
        outage_start = min(outage_start, now - timedelta(seconds=on_battery))
        source = f"on_battery={on_battery:g}s"
    # ... but not before we last saw it on mains: a card's counter can be stale (still
    # counting an earlier outage), and no outage began before that sighting. A handler
    # that never saw mains trusts the counter.
    capped = ""
    last_mains = previous.last_seen_on_mains
    if last_mains is not None and outage_start < last_mains:
        outage_start = last_mains
        capped = f"; capped: seen on mains at {last_mains.isoformat(timespec='seconds')}"
    # = min(max(on_battery, now - first seen), now - last seen on mains).
    time_on_battery = max(0.0, (now - outage_start).total_seconds())

    call_reason = _call_reason(event, ups_config.timer, time_on_battery, config)
    already_called = previous.power == "battery" and previous.called and ups_config.timer != -1
    called = already_called or call_reason is not None
    record = UpsRecord(
        power="battery",
        since=previous.since if previous.power == "battery" and previous.since else outage_start,
        first_seen_on_battery=first_seen,
        on_battery_since=outage_start,
        called=called,
        called_at=previous.called_at if already_called else (now if called else None),
        last_event_at=now,
        last_on_battery=on_battery,
        last_seen_on_mains=last_mains,
    )
    if ups_config.timer == -1:
        verdict = "timer = -1: this UPS never calls for maintenance"
    elif already_called:
        verdict = "maintenance already called for during this outage"
    elif call_reason is not None:
        verdict = f"calls for maintenance: {call_reason}"
    else:
        verdict = f"below timer {ups_config.timer}s: no maintenance yet"
    summary = f"on battery {time_on_battery:.0f}s, {verdict}"
    reasons = [f"{event.ups}: {source}{capped}; {summary}"]

    stored = dict(stored_state)
    stored[event.ups] = record
    targets: dict[str, str] = {}
    modes: dict[str, str] = {}
    for host in ups_config.hosts:
        feeding = config.ups_of_host(host)
        not_calling = [name for name in feeding if not _calls(stored.get(name))]
        if not called:
            targets[host] = TARGET_HOLD
        elif not_calling:
            targets[host] = TARGET_HOLD
            reasons.append(f"{host}: stays: also fed by {', '.join(not_calling)},"
                           " which does not call for maintenance")
        else:
            targets[host] = TARGET_MAINTENANCE
            modes[host] = ("save" if any(config.ups[name].mode == "save" for name in feeding)
                           else "migrate")
            fed = f" (every UPS feeding it: {', '.join(feeding)})" if len(feeding) > 1 else ""
            reasons.append(f"{host}: should be in maintenance, mode {modes[host]}{fed}")
    return Decision(
        ups=event.ups, ups_record=record, targets=targets, modes=modes,
        reasons=tuple(reasons), summary=summary, time_on_battery=time_on_battery,
    )


def _power_restored(event: Event, previous: UpsRecord, config: Config,
                    now: datetime) -> Decision:
    ups_config = config.ups[event.ups]
    record = UpsRecord(
        power="mains",
        since=previous.since if previous.power == "mains" and previous.since else now,
        last_event_at=now,
        last_on_battery=0.0,
        last_seen_on_mains=now,
    )
    action = config.maintenance.on_power_restored
    was = "after an outage" if previous.power == "battery" else "no outage known"
    summary = f"on mains ({was}), on_power_restored={action}"
    reasons = (f"{event.ups}: on_battery=0 ({event.service_state}): power restored; "
               f"hosts we put into maintenance: on_power_restored={action}",)
    return Decision(
        ups=event.ups, ups_record=record,
        targets=dict.fromkeys(ups_config.hosts, TARGET_NORMAL), modes={},
        reasons=reasons, summary=summary, time_on_battery=0.0,
    )


def _call_reason(event: Event, timer: int, time_on_battery: float,
                 config: Config) -> str | None:
    if timer == -1:
        return None
    if time_on_battery >= timer:
        return f"{time_on_battery:.0f}s on battery >= timer {timer}s"
    floors = config.maintenance
    runtime, charge = event.runtime, event.charge
    if runtime is not None and floors.runtime_floor >= 0 and runtime <= floors.runtime_floor:
        return f"runtime {runtime:.0f}s <= runtime_floor {floors.runtime_floor}s"
    if charge is not None and floors.charge_floor >= 0 and charge <= floors.charge_floor:
        return f"charge {charge:g}% <= charge_floor {floors.charge_floor}%"
    return None


def _calls(record: UpsRecord | None) -> bool:
    """A UPS not heard from, or on mains, does not call for maintenance."""
    return record is not None and record.power == "battery" and record.called


def pending_targets_of(config: Config, ups_records: Mapping[str, UpsRecord | None],
                       host_records: Mapping[str, HostRecord]) -> dict[str, str]:
    """--retry-pending's targets, from the stored records alone (level-triggered).

    Power state wins over what the host records say was under way: a host we put (or
    were putting) into maintenance is brought back as soon as one UPS feeding it is
    stored on mains, even when the call that stored it could do nothing (its hosts were
    busy with another handler, SCVMM was down, it was killed after storing the event).
    Work towards maintenance is resumed, or started, only while every UPS feeding the
    host calls for it, so a retry never disables a host once power has returned.
    A host whose record could not be read is absent from host_records: no target."""
    targets: dict[str, str] = {}
    for host, record in host_records.items():
        feeding = [ups_records.get(name) for name in config.ups_of_host(host)]
        any_mains = any(ups is not None and ups.power == "mains" for ups in feeding)
        all_calling = bool(feeding) and all(_calls(ups) for ups in feeding)
        entered_by_us = record.ours and (
            record.phase == "maintenance"
            or (record.phase == "failed" and record.wanted == WANT_MAINTENANCE))
        if record.phase == "entering":
            if any_mains:
                targets[host] = TARGET_NORMAL
            elif all_calling:
                targets[host] = TARGET_MAINTENANCE
        elif entered_by_us:
            if any_mains:
                targets[host] = TARGET_NORMAL
        elif record.phase == "leaving" or (record.phase == "failed"
                                           and record.wanted == WANT_NORMAL):
            # Power came back, then failed again and now calls for maintenance: never
            # take the host out of maintenance during that new outage.
            targets[host] = TARGET_MAINTENANCE if all_calling else TARGET_NORMAL
        elif record.phase == "normal" and all_calling:
            # The call that stored the outage could not work on this host (busy, killed).
            targets[host] = TARGET_MAINTENANCE
    return targets


def mode_of(config: Config, host: str) -> str:
    """Save when any UPS feeding the host is configured for save, else migrate."""
    feeding = config.ups_of_host(host)
    return "save" if any(config.ups[name].mode == "save" for name in feeding) else "migrate"


def disables_with_migration(mode: str, cluster: str | None) -> bool:
    """-MoveWithinCluster only in migrate mode on a clustered host (a stand-alone host
    has nowhere to move its VMs: save)."""
    return mode == "migrate" and cluster is not None


def observation_for(target: str, state: str, on_power_restored: str) -> str | None:
    """The lifecycle observation a target means for a host in `state` (None: nothing is
    called for). Hold continues what is under way, in its direction; a power return
    under on_power_restored=none hands our hosts over (never an Enable)."""
    if target == TARGET_MAINTENANCE:
        return lifecycle.WANT_MAINTENANCE
    if target == TARGET_NORMAL:
        return lifecycle.HAND_OVER if on_power_restored == "none" else lifecycle.WANT_NORMAL
    phase = lifecycle.PHASE_OF[state]
    if phase == "entering":
        return lifecycle.WANT_MAINTENANCE
    if phase == "leaving":
        return lifecycle.WANT_NORMAL
    return None

"""UpsSimulator: the simulated Dell UPS as a real SNMP agent, controllable while it runs.

Ties together the model (model.py), what the card serves (mib.py), the SNMP engine
(snmp_agent.py) and the optional HTTP control interface (control.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from check_dell_ups.simulator.control import ControlServer
from check_dell_ups.simulator.mib import (
    MibView,
    build_view,
    dell_alarm_string,
    global_status,
)
from check_dell_ups.simulator.model import SETTABLE_ALARMS, Clock, UpsModel
from check_dell_ups.simulator.snmp_agent import (
    AUTH_PROTOCOLS,
    PRIV_PROTOCOLS,
    SnmpAgentThread,
    UsmUser,
)

GLOBAL_STATUS_NAMES = {3: "ok", 4: "non-critical", 5: "critical"}
CONTROL_HOST = "127.0.0.1"
MINIMUM_PASSPHRASE_LENGTH = 8  # RFC 3414; net-snmp refuses shorter ones


@dataclass(frozen=True)
class V3User:
    """An SNMPv3 USM user. A protocol of None switches that level off."""

    name: str
    auth_protocol: str | None = "SHA"
    auth_passphrase: str | None = field(default=None, repr=False)
    priv_protocol: str | None = "AES"
    priv_passphrase: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.auth_protocol not in AUTH_PROTOCOLS:
            raise ValueError(f"unknown SNMPv3 auth protocol {self.auth_protocol!r}")
        if self.priv_protocol not in PRIV_PROTOCOLS:
            raise ValueError(f"unknown SNMPv3 privacy protocol {self.priv_protocol!r}")
        if self.priv_protocol is not None and self.auth_protocol is None:
            raise ValueError("SNMPv3 privacy needs authentication")
        for protocol, passphrase, what in (
            (self.auth_protocol, self.auth_passphrase, "auth"),
            (self.priv_protocol, self.priv_passphrase, "privacy"),
        ):
            if protocol is not None and len(passphrase or "") < MINIMUM_PASSPHRASE_LENGTH:
                raise ValueError(
                    f"SNMPv3 {what} passphrase of user {self.name!r} must have at least "
                    f"{MINIMUM_PASSPHRASE_LENGTH} characters"
                )

    def usm_user(self) -> UsmUser:
        return UsmUser(
            self.name,
            self.auth_protocol,
            self.auth_passphrase if self.auth_protocol else None,
            self.priv_protocol,
            self.priv_passphrase if self.priv_protocol else None,
        )


class UpsSimulator:
    """A Dell UPS with its Network Management Card, served over SNMP on loopback."""

    def __init__(  # noqa: PLR0917 - the documented constructor takes these by position too
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        community: str = "public",
        v3_users: tuple[V3User, ...] | list[V3User] = (),
        full_runtime: int = 1800,
        load: float = 35.0,
        control_port: int | None = None,
        drain_speed: float = 1.0,
        *,
        low_battery_minutes: int = 3,
        clock: Clock | None = None,
        dell_mib: bool = True,
    ) -> None:
        model_options: dict[str, Any] = {}
        if clock is not None:
            model_options["clock"] = clock
        self.model = UpsModel(
            full_runtime=full_runtime,
            load=load,
            drain_speed=drain_speed,
            low_battery_minutes=low_battery_minutes,
            **model_options,
        )
        self.host = host
        self._dell_mib = dell_mib
        self._requested_control_port = control_port
        self._request_count = 0
        self._count_lock = threading.Lock()
        self._agent = SnmpAgentThread(
            view_source=self._view,
            on_request=self._count_request,
            host=host,
            port=port,
            community=community,
            users=tuple(user.usm_user() for user in v3_users),
        )
        self._control: ControlServer | None = None
        self._started = False

    # ----- lifecycle -------------------------------------------------------------------

    def start(self) -> UpsSimulator:
        if self._started:
            return self
        self._agent.start()
        if self._requested_control_port is not None:
            # The control interface changes the UPS: loopback only, whatever --host says.
            self._control = ControlServer(self, CONTROL_HOST, self._requested_control_port)
            try:
                self._control.start()
            except OSError:
                self._control = None
                self._agent.stop()
                raise
        self._started = True
        return self

    def stop(self) -> None:
        if self._control is not None:
            self._control.stop()
            self._control = None
        self._agent.stop()
        self._started = False

    def __enter__(self) -> UpsSimulator:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int | None:
        """The UDP port the agent listens on (known once started)."""
        return self._agent.port

    @property
    def control_port(self) -> int | None:
        """The HTTP control port, or None without a control interface."""
        return self._control.port if self._control is not None else None

    # ----- controls ----------------------------------------------------------------------

    def cut_mains(self) -> None:
        self.model.cut_mains()

    def restore_mains(self) -> None:
        self.model.restore_mains()

    def reboot_card(self) -> None:
        self.model.reboot_card()

    def set_load(self, percent: float) -> None:
        self.model.set_load(percent)

    def set_charge(self, percent: float) -> None:
        self.model.set_charge(percent)

    def set_temperature(self, celsius: float) -> None:
        self.model.set_temperature(celsius)

    def set_alarm(self, name: str, active: bool) -> None:
        self.model.set_alarm(name, active)

    def stale_counter(self, seconds: int, for_seconds: float = 5.0) -> None:
        """The card's counter reads `seconds` in the first seconds of the next outage."""
        self.model.stale_counter(seconds, for_seconds)

    def start_test(self, kind: str, seconds: float, fails: bool = False) -> None:
        """A battery test ("self-test") or runtime calibration ("calibration")."""
        self.model.start_test(kind, seconds, fails)

    @staticmethod
    def alarm_names() -> tuple[str, ...]:
        """The alarm names set_alarm accepts."""
        return SETTABLE_ALARMS

    def state(self) -> dict[str, Any]:
        reading = self.model.reading()
        view = build_view(reading)
        output_source = view.values[(1, 3, 6, 1, 2, 1, 33, 1, 4, 1, 0)][1]
        battery_status = view.values[(1, 3, 6, 1, 2, 1, 33, 1, 2, 1, 0)][1]
        return {
            "mains": reading.mains,
            "seconds_on_battery": reading.seconds_on_battery,
            "outage_seconds": round(reading.outage_seconds, 1),
            "charge": round(reading.charge, 2),
            "runtime": reading.runtime_seconds,
            "load": reading.load,
            "alarms": sorted(reading.alarm_names),
            "request_count": self.request_count,
            "output_source": {2: "none", 3: "normal", 4: "bypass", 5: "battery"}[output_source],
            "battery_status": {2: "normal", 3: "low", 4: "depleted"}[battery_status],
            "dell_alarms": dell_alarm_string(reading),
            "global_status": GLOBAL_STATUS_NAMES[global_status(reading)],
            "card_uptime": int(reading.card_uptime_seconds),
            "temperature": reading.temperature,
            "load_on_battery": reading.load_on_battery,
            "test": reading.test.kind if reading.test_running else None,  # type: ignore[union-attr]
            "last_test_result": (
                None if reading.test is None or reading.test_running else reading.test.result
            ),
            "port": self.port,
            "control_port": self.control_port,
        }

    @property
    def request_count(self) -> int:
        """SNMP request PDUs (GET, GETNEXT, GETBULK, SET) received so far."""
        with self._count_lock:
            return self._request_count

    # ----- for the SNMP thread -------------------------------------------------------------

    def _count_request(self) -> None:
        with self._count_lock:
            self._request_count += 1

    def _view(self) -> MibView:
        return build_view(self.model.reading(), dell_mib=self._dell_mib)

"""Fixtures for the handler's tests: configs, an in-memory SCVMM, a fixed clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from check_dell_ups.maintenance.config import Config, parse_config

T0 = datetime(2026, 11, 26, 8, 0, 0, tzinfo=timezone.utc)


def config_dict(state_dir: str = "/nonexistent/state", **maintenance: Any) -> dict[str, Any]:
    return {
        "scvmm": {"server": "vmm01.example.com", "username": "svc-ups", "transport": "http",
                  "auth": "basic"},
        "maintenance": {"state_dir": state_dir, **maintenance},
        "ups": {"ups-a": {"hosts": ["hv01.example.com", "hv02.example.com"]}},
    }


@pytest.fixture
def make_config():
    def make(ups: dict[str, Any] | None = None, vmm_host: str | None = None,
             state_dir: str = "/nonexistent/state", **maintenance: Any) -> Config:
        raw = config_dict(state_dir, **maintenance)
        if ups is not None:
            raw["ups"] = ups
        if vmm_host is not None:
            raw["scvmm"]["vmm_host"] = vmm_host
        return parse_config(raw)

    return make


@pytest.fixture
def at():
    """at(seconds) -> T0 + seconds."""
    return lambda seconds=0: T0 + timedelta(seconds=seconds)

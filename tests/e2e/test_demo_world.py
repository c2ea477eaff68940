"""The demo's world: the inventory, the handler config it writes, SCVMM's view."""

from __future__ import annotations

import stat
from pathlib import Path

from check_dell_ups.demo_world import (
    FED_HOSTS,
    OTHER_FEED_HOST,
    SCVMM_PASSWORD,
    UPS_NAME,
    VMM_HOST,
    Workspace,
    inventory,
    scvmm_view,
)
from check_dell_ups.maintenance.config import load_config


def test_the_generated_handler_config_is_valid_and_feeds_the_right_hosts():
    with Workspace(prefix="dell_ups_demo_test-") as workspace:
        path = workspace.write_handler_config(5985, timer=20, budget=2,
                                              with_password_file=True)
        config = load_config(path)
        assert config.ups[UPS_NAME].hosts == FED_HOSTS
        assert config.scvmm.vmm_host == VMM_HOST
        assert config.maintenance.timer == 20
        assert config.maintenance.budget == 2
        assert config.maintenance.state_dir == str(workspace.state_dir)
        mode = stat.S_IMODE(workspace.password_file.stat().st_mode)
        assert mode == 0o600
        assert SCVMM_PASSWORD not in path.read_text()
        assert workspace.password_file.read_text() == SCVMM_PASSWORD + "\n"
        root = workspace.path
    assert not Path(root).exists()


def test_inventory_is_a_three_node_cluster_with_ha_and_non_ha_vms_and_a_stand_alone_host():
    world = inventory()
    clusters = {name: host["cluster"] for name, host in world["hosts"].items()}
    assert sorted(n for n, c in clusters.items() if c == "cl01") == [
        "hv01.example.com", "hv02.example.com", OTHER_FEED_HOST]
    assert clusters["hv09.example.com"] is None
    # Both nodes of cl02 on this UPS: the last-node rule of Failover Clustering shows.
    assert sorted(n for n, c in clusters.items() if c == "cl02") == [
        "hv05.example.com", "hv06.example.com"]
    assert {"hv05.example.com", "hv06.example.com"} <= set(FED_HOSTS)
    on_fed_nodes = [vm for vm in world["vms"].values() if vm["host"] in FED_HOSTS]
    assert {vm["ha"] for vm in on_fed_nodes} == {True, False}
    assert world["vms"]["vmm01"]["host"] == VMM_HOST


def test_scvmm_view_lists_each_host_with_its_feed_state_and_vms():
    snapshot = inventory()
    snapshot["hosts"]["hv01.example.com"]["maintenance"] = True
    view = scvmm_view(snapshot)
    assert len(view) == 6
    first = view[0].split()
    assert first[:4] == ["hv01.example.com", "cl01", "ups-rack1", "MAINTENANCE"]
    assert "web01 (HA, Running)" in view[0] and "build01 (non-HA, Running)" in view[0]
    assert "stand-alone" in view[5] and "file09 (non-HA, Running)" in view[5]
    assert "other feed" in view[2]
    assert view[4].split()[:3] == ["hv06.example.com", "cl02", "ups-rack1"]

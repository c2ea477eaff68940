"""Each cmdlet of the SCVMM conversation against the fake, through real pypsrp over HTTP."""

from __future__ import annotations

import pytest


def test_get_scvmmserver_must_run_first_in_each_runspace(fake, bare_pool, psrp):
    before = psrp.run(bare_pool, [("Get-SCVMHost", {"ComputerName": "hv01.example.com"})])
    assert before.output == []
    assert "Get-SCVMMServer" in str(before.streams.error[0])

    connect = psrp.run(bare_pool, [("Get-SCVMMServer", {"ComputerName": "vmm01.example.com"})])
    assert psrp.prop(connect.output[0], "Name") == "vmm01.example.com"

    after = psrp.run(bare_pool, [("Get-SCVMHost", {"ComputerName": "hv01.example.com"})])
    assert not after.streams.error
    assert psrp.prop(after.output[0], "Name") == "hv01.example.com"


def test_get_scvmmserver_refuses_another_server(bare_pool, psrp):
    result = psrp.run(bare_pool, [("Get-SCVMMServer", {"ComputerName": "vmm99.example.com"})])
    assert result.output == []
    assert "vmm99.example.com" in str(result.streams.error[0])


def test_get_scvmhost_returns_a_host_object(pool, psrp):
    result = psrp.run(pool, [("Get-SCVMHost", {"ComputerName": "hv01.example.com"})])
    host = result.output[0]
    assert psrp.prop(host, "Name") == "hv01.example.com"
    assert psrp.prop(host, "ComputerName") == "hv01"
    # VMM's Host has no MaintenanceMode property: OverallState says it.
    assert "MaintenanceMode" not in host.adapted_properties
    assert psrp.text(psrp.prop(host, "OverallState")) == "OK"
    assert psrp.prop(host, "OverallState").property_sets == [0]
    assert psrp.prop(host, "MaintenanceHost") is False
    assert psrp.prop(host, "HostCluster") == "cl01"
    assert psrp.text(psrp.prop(host, "ClusterNodeStatus")) == "Running"
    assert psrp.text(psrp.prop(host, "CommunicationState")) == "Responding"
    assert host.types[0] == "Microsoft.SystemCenter.VirtualMachineManager.Host"


def test_a_host_in_maintenance_has_overall_state_maintenance_mode(fake, pool, psrp):
    assert psrp.wait_for_job(pool, psrp.disable(pool, "hv09.example.com")) == "Completed"
    host = psrp.run(pool, [("Get-SCVMHost", {"ComputerName": "hv09.example.com"})]).output[0]
    state = psrp.prop(host, "OverallState")
    assert (psrp.text(state), state.property_sets) == ("MaintenanceMode", [8])
    assert state.types[0] == "Microsoft.VirtualManager.Remoting.OverallState"
    assert psrp.prop(host, "OverallStateString") == "In Maintenance Mode"  # localized text


def test_get_scvmhost_of_a_standalone_host_has_no_cluster(pool, psrp):
    host = psrp.run(pool, [("Get-SCVMHost", {"ComputerName": "hv09.example.com"})]).output[0]
    assert psrp.prop(host, "HostCluster") is None


def test_get_scvmhost_without_name_lists_every_host(pool, psrp):
    result = psrp.run(pool, [("Get-SCVMHost", {})])
    assert sorted(psrp.prop(h, "Name") for h in result.output) == sorted(
        [
            "hv01.example.com",
            "hv02.example.com",
            "hv03.example.com",
            "hv04.example.com",
            "hv09.example.com",
        ]
    )


def test_unknown_host_is_a_non_terminating_error(pool, psrp):
    result = psrp.run(pool, [("Get-SCVMHost", {"ComputerName": "nope.example.com"})])
    assert result.output == []
    assert not result.had_errors  # only in streams.error, as with a real VMM
    assert "nope.example.com" in str(result.streams.error[0])


def test_get_scvirtualmachine_by_host_and_by_name(pool, psrp):
    on_host = psrp.run(pool, [("Get-SCVirtualMachine", {"VMHost": "hv01.example.com"})]).output
    by_name = {psrp.prop(vm, "Name"): vm for vm in on_host}
    assert set(by_name) == {"web01", "web02", "build01", "old01"}
    assert psrp.text(psrp.prop(by_name["web01"], "VirtualMachineState")) == "Running"
    assert psrp.text(psrp.prop(by_name["old01"], "VirtualMachineState")) == "PowerOff"
    assert psrp.prop(by_name["old01"], "VirtualMachineState").property_sets == [1]
    assert psrp.prop(by_name["web01"], "IsHighlyAvailable") is True
    assert psrp.prop(by_name["build01"], "IsHighlyAvailable") is False
    assert psrp.prop(by_name["web01"], "VMHost") == "hv01.example.com"

    one = psrp.run(pool, [("Get-SCVirtualMachine", {"Name": "app01"})]).output
    assert [psrp.prop(vm, "Name") for vm in one] == ["app01"]


def test_get_scvirtualmachine_by_name_may_find_several_by_id_exactly_one(fake, pool, psrp):
    fake.model.vms["old01"].name = "web01"  # VM names are not unique in VMM
    namesakes = psrp.run(pool, [("Get-SCVirtualMachine", {"Name": "web01"})]).output
    assert len(namesakes) == 2
    wanted = psrp.prop(namesakes[1], "ID")
    by_id = psrp.run(pool, [("Get-SCVirtualMachine", {"ID": str(wanted)})]).output
    assert [psrp.prop(vm, "ID") for vm in by_id] == [wanted]
    missing = psrp.run(pool, [("Get-SCVirtualMachine",
                               {"ID": "00000000-0000-0000-0000-0000000000ee"})])
    assert missing.output == [] and "Unable to find" in str(missing.streams.error[0])


def test_disable_with_move_migrates_ha_vms_and_saves_the_rest(fake, pool, psrp):
    fake.set_faults(job_seconds=2.0)  # long enough to see it running on a loaded machine
    job = psrp.disable(pool, "hv01.example.com", move=True)
    assert psrp.text(psrp.prop(job, "Status")) == "Running"
    assert fake.snapshot()["hosts"]["hv01.example.com"]["maintenance"] is False  # not yet

    assert psrp.wait_for_job(pool, job) == "Completed"
    state = fake.snapshot()
    assert state["hosts"]["hv01.example.com"]["maintenance"] is True
    assert state["vms"]["web01"] == {"host": "hv02.example.com", "status": "Running", "ha": True}
    assert state["vms"]["web02"]["host"] == "hv02.example.com"
    assert state["vms"]["build01"] == {"host": "hv01.example.com", "status": "Saved", "ha": False}
    assert state["vms"]["old01"]["status"] == "PowerOff"  # was not running: untouched


def test_disable_without_move_saves_every_running_vm(fake, pool, psrp):
    job = psrp.disable(pool, "hv01.example.com", move=False)
    assert psrp.wait_for_job(pool, job) == "Completed"
    vms = fake.snapshot()["vms"]
    assert {name: vms[name]["status"] for name in ("web01", "web02", "build01")} == {
        "web01": "Saved",
        "web02": "Saved",
        "build01": "Saved",
    }
    assert {vms[name]["host"] for name in ("web01", "web02", "build01")} == {"hv01.example.com"}


def test_standalone_host_saves_even_with_move(fake, pool, psrp):
    job = psrp.disable(pool, "hv09.example.com", move=True)
    assert psrp.wait_for_job(pool, job) == "Completed"
    state = fake.snapshot()
    assert state["hosts"]["hv09.example.com"]["maintenance"] is True
    assert state["vms"]["solo02"] == {"host": "hv09.example.com", "status": "Saved", "ha": True}
    assert state["vms"]["solo01"]["status"] == "Saved"


def test_failed_migration_fails_the_job_and_keeps_the_host(fake, pool, psrp):
    fake.set_faults(fail_migration_vms=["web02"])
    job = psrp.disable(pool, "hv01.example.com", move=True)
    assert psrp.wait_for_job(pool, job) == "Failed"
    found = psrp.run(pool, [("Get-SCJob", {"ID": psrp.prop(job, "ID")})]).output[0]
    # One level deep, ErrorInfo is its text "CodeName (NNNN)"; the whole object only
    # through Select-Object -ExpandProperty.
    assert psrp.prop(found, "ErrorInfo") == "LiveMigrationFailed (10698)"
    expanded = psrp.run(pool, [("Get-SCJob", {"ID": psrp.prop(job, "ID")}),
                               ("Select-Object", {"ExpandProperty": "ErrorInfo"})]).output[0]
    assert expanded.types[0] == "Microsoft.VirtualManager.Utils.ErrorInfo"
    assert "web02" in psrp.prop(expanded, "Problem")
    assert psrp.prop(expanded, "RecommendedAction")
    assert psrp.prop(expanded, "DetailedErrorCode") == 10698
    state = fake.snapshot()
    assert state["hosts"]["hv01.example.com"]["maintenance"] is False
    assert state["vms"]["web02"] == {"host": "hv01.example.com", "status": "Running", "ha": True}
    assert state["vms"]["web01"]["host"] == "hv02.example.com"  # that one did move


def test_last_node_of_a_cluster_cannot_enter_by_default(fake, pool, psrp):
    """Failover Clustering keeps the last node: its migrate-mode Disable fails."""
    assert psrp.wait_for_job(pool, psrp.disable(pool, "hv03.example.com")) == "Completed"
    last = psrp.disable(pool, "hv04.example.com")
    assert psrp.wait_for_job(pool, last) == "Failed"
    assert fake.snapshot()["hosts"]["hv04.example.com"]["maintenance"] is False
    assert fake.snapshot()["vms"]["app01"] == {
        "host": "hv04.example.com",
        "status": "Running",
        "ha": True,
    }


def test_last_node_in_save_mode_enters_and_saves(fake, pool, psrp):
    assert psrp.wait_for_job(pool, psrp.disable(pool, "hv03.example.com")) == "Completed"
    assert psrp.wait_for_job(pool, psrp.disable(pool, "hv04.example.com", move=False)) \
        == "Completed"
    assert fake.snapshot()["vms"]["app01"] == {"host": "hv04.example.com", "status": "Saved",
                                                "ha": True}


def test_last_node_with_the_fault_off_saves_what_cannot_move(fake, pool, psrp):
    fake.set_faults(last_node_fails=False)
    assert psrp.wait_for_job(pool, psrp.disable(pool, "hv03.example.com")) == "Completed"
    assert fake.snapshot()["vms"]["app01"]["host"] == "hv04.example.com"
    assert psrp.wait_for_job(pool, psrp.disable(pool, "hv04.example.com")) == "Completed"
    state = fake.snapshot()
    assert state["hosts"]["hv04.example.com"]["maintenance"] is True
    assert state["vms"]["app01"] == {"host": "hv04.example.com", "status": "Saved", "ha": True}


def test_a_host_is_locked_while_its_job_runs(fake, pool, psrp):
    fake.set_faults(job_seconds=5)
    psrp.disable(pool, "hv01.example.com")
    again = psrp.run(
        pool,
        [
            ("Get-SCVMHost", {"ComputerName": "hv01.example.com"}),
            ("Disable-SCVMHost", {"RunAsynchronously": None}),
        ],
    )
    assert "locked by another job" in str(again.streams.error[0])
    assert "(Error ID: 2602)" in str(again.streams.error[0])


def test_job_progresses_on_wall_clock_time(fake, pool, psrp):
    fake.set_faults(job_seconds=3.0)
    job = psrp.disable(pool, "hv02.example.com")
    job_id = psrp.prop(job, "ID")
    first = psrp.run(pool, [("Get-SCJob", {"ID": job_id})]).output[0]
    assert psrp.text(psrp.prop(first, "Status")) == "Running"
    assert psrp.prop(first, "Progress").endswith("%")
    assert psrp.wait_for_job(pool, job) == "Completed"
    done = psrp.run(pool, [("Get-SCJob", {"ID": job_id})]).output[0]
    assert psrp.prop(done, "Progress") == "100 %"
    assert fake.snapshot()["jobs"][str(job_id)] == {
        "status": "Completed",
        "cmdlet": "Disable-SCVMHost",
        "target": "hv02.example.com",
        "error": None,
    }


def test_a_job_outlives_the_connection_that_started_it(fake, psrp):
    fake.set_faults(job_seconds=1.0)
    first = psrp.open_pool(fake)
    psrp.run(first, [("Get-SCVMMServer", {"ComputerName": "vmm01.example.com"})])
    job_id = psrp.prop(psrp.disable(first, "hv02.example.com"), "ID")
    first.close()

    second = psrp.open_pool(fake)
    try:
        psrp.run(second, [("Get-SCVMMServer", {"ComputerName": "vmm01.example.com"})])
        assert psrp.wait_until(lambda: psrp.job_status(second, job_id) == "Completed")
    finally:
        second.close()
    assert fake.snapshot()["hosts"]["hv02.example.com"]["maintenance"] is True


def test_get_scjob_of_an_unknown_id_is_an_error(pool, psrp):
    result = psrp.run(pool, [("Get-SCJob", {"ID": "00000000-0000-0000-0000-000000000001"})])
    assert result.output == []
    assert result.streams.error


def test_enable_ends_maintenance_and_starts_nothing(fake, pool, psrp):
    assert psrp.wait_for_job(pool, psrp.disable(pool, "hv09.example.com")) == "Completed"
    enable = psrp.run(
        pool,
        [
            ("Get-SCVMHost", {"ComputerName": "hv09.example.com"}),
            ("Enable-SCVMHost", {"RunAsynchronously": None, "JobVariable": "j"}),
        ],
        [("Get-Variable", {"Name": "j", "ValueOnly": None})],
    )
    assert not enable.streams.error
    assert psrp.wait_for_job(pool, enable.output[-1]) == "Completed"
    state = fake.snapshot()
    assert state["hosts"]["hv09.example.com"]["maintenance"] is False
    assert state["vms"]["solo01"]["status"] == "Saved"


def test_start_scvirtualmachine_starts_a_saved_vm(fake, pool, psrp):
    assert (
        psrp.wait_for_job(pool, psrp.disable(pool, "hv01.example.com", move=False)) == "Completed"
    )
    early = psrp.run(
        pool,
        [
            ("Get-SCVirtualMachine", {"Name": "build01"}),
            ("Start-SCVirtualMachine", {"RunAsynchronously": None, "JobVariable": "s"}),
        ],
        [("Get-Variable", {"Name": "s", "ValueOnly": None})],
    )
    # A host in maintenance still starts its VMs.
    assert psrp.wait_for_job(pool, early.output[-1]) == "Completed"
    assert fake.snapshot()["vms"]["build01"]["status"] == "Running"
    fake.model.vms["build01"].status = "Saved"

    enable = psrp.run(
        pool,
        [
            ("Get-SCVMHost", {"ComputerName": "hv01.example.com"}),
            ("Enable-SCVMHost", {"RunAsynchronously": None, "JobVariable": "j"}),
        ],
        [("Get-Variable", {"Name": "j", "ValueOnly": None})],
    )
    assert psrp.wait_for_job(pool, enable.output[-1]) == "Completed"
    start = psrp.run(
        pool,
        [
            ("Get-SCVirtualMachine", {"Name": "build01"}),
            ("Start-SCVirtualMachine", {"RunAsynchronously": None, "JobVariable": "s"}),
        ],
        [("Get-Variable", {"Name": "s", "ValueOnly": None})],
    )
    assert psrp.prop(start.output[0], "Name") == "build01"
    assert psrp.wait_for_job(pool, start.output[-1]) == "Completed"
    assert fake.snapshot()["vms"]["build01"]["status"] == "Running"
    assert fake.snapshot()["vms"]["web01"]["status"] == "Saved"


def test_job_variable_lives_only_for_its_invocation(pool, psrp):
    psrp.disable(pool, "hv02.example.com")
    later = psrp.run(pool, [("Get-Variable", {"Name": "j", "ValueOnly": None})])
    assert later.output == []
    assert "Cannot find a variable" in str(later.streams.error[0])


def test_script_text_is_rejected(fake, pool, psrp):
    from pypsrp.powershell import PowerShell

    powershell = PowerShell(pool)
    powershell.add_script("Get-SCVMHost | Disable-SCVMHost -RunAsynchronously")
    powershell.invoke()
    assert powershell.had_errors
    assert "no-language mode" in str(powershell.streams.error[0])
    assert all(h["maintenance"] is False for h in fake.snapshot()["hosts"].values())
    assert [c["cmdlet"] for c in fake.calls] == ["Get-SCVMMServer"]


def test_unknown_cmdlet_is_rejected(pool, psrp):
    result = psrp.run(pool, [("Remove-SCVMHost", {"VMHost": "hv01.example.com"})])
    assert result.had_errors
    assert "Remove-SCVMHost" in str(result.streams.error[0])


@pytest.mark.parametrize(
    ("cmdlet", "parameters"),
    [("Get-SCVMHost", {"Force": None}), ("Get-SCJob", {"Name": "x"})],
)
def test_unknown_parameter_is_rejected(pool, psrp, cmdlet, parameters):
    result = psrp.run(pool, [(cmdlet, parameters)])
    assert result.had_errors
    assert "A parameter cannot be found" in str(result.streams.error[0])


def test_every_cmdlet_is_recorded_with_its_parameters(fake, pool, psrp):
    psrp.disable(pool, "hv02.example.com", move=True)
    assert fake.calls == [
        {"cmdlet": "Get-SCVMMServer", "parameters": {"ComputerName": "vmm01.example.com"}},
        {"cmdlet": "Get-SCVMHost", "parameters": {"ComputerName": "hv02.example.com"}},
        {
            "cmdlet": "Disable-SCVMHost",
            "parameters": {
                "RunAsynchronously": True,
                "JobVariable": "j",
                "MoveWithinCluster": True,
            },
        },
        {"cmdlet": "Get-Variable", "parameters": {"Name": "j", "ValueOnly": True}},
    ]


def test_get_scvirtualmachine_takes_a_host_object(pool, psrp):
    host = psrp.run(pool, [("Get-SCVMHost", {"ComputerName": "hv09.example.com"})]).output[0]
    result = psrp.run(pool, [("Get-SCVirtualMachine", {"VMHost": host})])
    assert not result.streams.error, [str(e) for e in result.streams.error]
    assert sorted(psrp.prop(vm, "Name") for vm in result.output) == ["solo01", "solo02"]

"""A fake SCVMM server: a real WinRM/PSRP endpoint (HTTP, Basic auth) over an inventory
of hosts, clusters and VMs, with injectable faults. Start with
check_dell_ups.fake_scvmm.server.FakeScvmm or the fake_scvmm program (cli.py).

Modules: model (the VMM world and its jobs), cmdlets (what each cmdlet does), objects
(how results look on the wire), session (one PSRP shell on psrpcore), soap (WSMan
envelopes), server (HTTP, control endpoints, faults), cli."""

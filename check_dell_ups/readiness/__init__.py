"""check_dell_ups_readiness: a Monitoring Plugin that asks, in daylight, whether the
event handler could do its job if power failed now (DESIGN.md "check_dell_ups_readiness").

survey.py reads (config, state, SCVMM: only reads), assess.py judges (pure), plugin.py
words it the nagiosplugin way, cli.py is the command line.
"""

"""check_dell_ups: UPS power protection for Hyper-V inside Icinga 2 / Nagios.

Kept empty on purpose: the check imports this package on every run, so nothing
heavy may be imported here.
"""

__version__ = "0.1.0"

"""pytest plugin for bench/mutate_lifecycle.py: replaces one row of the lifecycle table
(MUTANT=state,observation,next_state,action) before the tests run."""

from __future__ import annotations

import os

from check_dell_ups.maintenance import lifecycle as lc

if os.environ.get("MUTANT"):
    _state, _observation, _next, _action = os.environ["MUTANT"].split(",")
    lc.TABLE[(_state, _observation)] = lc.Row(_next, _action, "mutant")

"""Mutation check of the lifecycle table: break one row at a time (its action becomes
`nothing`, or, for a row that does nothing, its next state becomes the current one) and
run the lifecycle and reconciler tests against it. Prints each mutant caught or
survived and the count. A survivor is a row no test pins down.

    .venv/bin/python bench/mutate_lifecycle.py [--sample 40] [--seed 1] [--all]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
from pathlib import Path

from check_dell_ups.maintenance import lifecycle as lc

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/maintenance/test_lifecycle.py", "tests/maintenance/test_reconcile.py",
         "tests/maintenance/test_shell_faults.py", "tests/maintenance/test_incidents.py"]
PLUGIN = "bench._mutant"  # applies MUTANT=state,observation,next_state,action


def mutants() -> list[tuple[str, str, str, str]]:
    """One mutant per row that does something (acts or moves)."""
    found = []
    for (state, observation), row in lc.TABLE.items():
        if row.action != lc.NOTHING:
            found.append((state, observation, row.next_state, lc.NOTHING))
        elif row.next_state != state:
            found.append((state, observation, state, lc.NOTHING))
    return found


def caught(mutant: tuple[str, str, str, str]) -> bool:
    env = {**os.environ, "MUTANT": ",".join(mutant), "SHELL_FAULT_EXAMPLES": "30",
           "PYTHONPATH": str(ROOT)}
    # Not the docs test: it compares the doc with the table, so it catches every mutant.
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", PLUGIN,
                             "-k", "not docs_show_the_table",
                             "-p", "no:cacheprovider", *TESTS], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            check=False)
    return result.returncode == 1  # 1: tests failed; anything else is not a catch


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--all", action="store_true")
    args = parser.parse_args()
    every = mutants()
    chosen = every if args.all else random.Random(args.seed).sample(
        every, min(args.sample, len(every)))
    survivors = []
    for mutant in chosen:
        ok = caught(mutant)
        print(f"{'caught  ' if ok else 'SURVIVED'} {mutant[0]} x {mutant[1]} -> "
              f"{mutant[2]} / {mutant[3]}", flush=True)
        if not ok:
            survivors.append(mutant)
    print(f"caught {len(chosen) - len(survivors)}/{len(chosen)} mutants "
          f"(of {len(every)} acting rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

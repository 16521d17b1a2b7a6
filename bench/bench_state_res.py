"""Benchmark: state resolution of a big forked room, ranvier against Synapse.

Run from the repository root::

    .venv/bin/python bench/bench_state_res.py [--members 9000] [--forks 3] [--fork-events 500]

Theory of operation: one room per room version (default 11, state res v2, and 12, v2.1) is
built with :class:`tests.core.state_res.roomgen.RoomBuilder`: create, power levels, join rules
and ``--members`` joins plus 800 other state events and topic/power changes: about 10,000
entries of state.
It then forks into ``--forks`` branches of ``--fork-events`` valid events each (leaves,
rejoins, kicks, bans, invites, power level and join rule changes, topics) from a mix of
moderators and ordinary members. The branch states are resolved

* by ranvier in this process (:func:`ranvier.core.state_res.resolve_state` with a plain
  ``dict.get`` lookup and no precomputed auth chains, so ranvier computes every auth chain
  itself), best of ``--repeat`` runs, each with a fresh lookup (nothing memoised between runs);
* by Synapse's resolver in a subprocess under ``$RANVIER_SYNAPSE_PYTHON`` (default
  ``.venv-synapse/bin/python``), fed the same PDUs as JSON (``synapse_oracle.py``), also best
  of ``--repeat`` runs, each with a fresh store.

The results must be equal. CPU seconds are ``time.process_time`` around the resolution only
(building events is excluded on both sides). Synapse normally gets the auth chain difference
from its database; the oracle computes it in Python and reports that part separately, so the
ratio is given both against Synapse's total and against Synapse without that part (the
conservative figure).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ranvier.core.events import StateKey  # noqa: E402
from ranvier.core.room_versions import get_room_version  # noqa: E402
from ranvier.core.state_res import resolve_state  # noqa: E402
from tests.core.state_res.roomgen import Branch, RoomBuilder  # noqa: E402

ORACLE = ROOT / "tests" / "core" / "state_res" / "synapse_oracle.py"


def build_room(
    version: str, members: int, forks: int, fork_events: int, seed: int
) -> tuple[RoomBuilder, list[dict[StateKey, str]]]:
    """The big room and its branches' states (see the module docstring)."""
    rv = get_room_version(version)
    rng = random.Random(seed)
    core = ["@u0:a", "@u1:b", "@u2:a", "@u3:c", "@u4:b"]
    member_ids = [f"@m{i}:s{i % 50}" for i in range(members)]
    rb = RoomBuilder(rv, rng, core)
    trunk = rb.create_room(extra_members=member_ids)
    for i in range(800):  # other state: room settings with their own keys, and topic history
        rb.try_add(trunk, "org.example.setting", core[i % 3], str(i), {"value": i})
    for i in range(200):
        rb.try_add(trunk, "m.room.topic", core[i % 3], "", {"topic": f"topic {i}"})
        if i % 20 == 0:
            pl = rb.events[trunk.state[("m.room.power_levels", "")]].content
            users = dict(pl["users"])
            users[rng.choice(member_ids)] = 50
            rb.try_add(trunk, "m.room.power_levels", core[1], "", rb.pl_content(users))
    newcomers = [f"@new{i}:n" for i in range(forks * fork_events)]
    states = []
    for f in range(forks):
        b = trunk.fork()
        made = 0
        while made < fork_events:
            if step(rb, b, rng, core, member_ids, newcomers):
                made += 1
        states.append(b.state)
        del f
    return rb, states


def step(
    rb: RoomBuilder,
    b: Branch,
    rng: random.Random,
    core: list[str],
    members: list[str],
    newcomers: list[str],
) -> bool:
    """One random event on branch ``b``; True if it was allowed and added."""
    r = rng.random()
    mod = rng.choice(core[:3])
    target = rng.choice(members)
    if r < 0.30:
        ev = rb.try_add(b, "m.room.member", target, target, {"membership": "leave"})
    elif r < 0.45:
        ev = rb.try_add(b, "m.room.member", target, target, {"membership": "join"})
    elif r < 0.55:
        ev = rb.try_add(b, "m.room.member", mod, target, {"membership": "leave"})
    elif r < 0.65:
        ev = rb.try_add(b, "m.room.member", mod, target, {"membership": "ban"})
    elif r < 0.75:
        n = rng.choice(newcomers)
        ev = rb.try_add(b, "m.room.member", n, n, {"membership": "join"})
    elif r < 0.82:
        pl_id = b.state[("m.room.power_levels", "")]
        users = dict(rb.events[pl_id].content["users"])
        users[rng.choice(core[1:] + members[:20])] = rng.choice((0, 50, 100))
        ev = rb.try_add(b, "m.room.power_levels", mod, "", rb.pl_content(users))
    elif r < 0.86:
        rule = rng.choice(("public", "public", "invite"))
        ev = rb.try_add(b, "m.room.join_rules", mod, "", {"join_rule": rule})
    else:
        ev = rb.try_add(b, "m.room.topic", rng.choice([mod, target]), "", {"topic": str(r)})
    return ev is not None


def run_ranvier(
    rb: RoomBuilder, states: list[dict[StateKey, str]], repeat: int
) -> tuple[Any, float]:
    """Best-of-``repeat`` CPU seconds of ranvier's resolution, and its result."""
    rv = rb.rv
    best = float("inf")
    result: dict[StateKey, str] = {}
    for _ in range(repeat):
        get = dict(rb.events).get  # a fresh lookup each run: no warm memo from before
        start = time.process_time()
        result = resolve_state(rv, states, get)
        best = min(best, time.process_time() - start)
    return result, best


def run_synapse(
    python: str, rb: RoomBuilder, states: list[dict[StateKey, str]], repeat: int
) -> dict[str, Any]:
    """Synapse's result and best-of-``repeat`` CPU seconds (see ``synapse_oracle.py``)."""
    case = rb.case(states)
    case["repeat"] = repeat
    proc = subprocess.run(
        [python, str(ORACLE)],
        input=json.dumps({"cases": [case]}),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-4000:])
    out: dict[str, Any] = json.loads(proc.stdout)["results"][0]
    return out


def main() -> None:
    """Build, resolve on both sides, compare, print the numbers."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=int, default=9000)
    ap.add_argument("--forks", type=int, default=3)
    ap.add_argument("--fork-events", type=int, default=500)
    ap.add_argument("--versions", default="11,12")
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    python = os.environ.get(
        "RANVIER_SYNAPSE_PYTHON", str(ROOT / ".venv-synapse" / "bin" / "python")
    )

    for version in args.versions.split(","):
        t0 = time.process_time()
        rb, states = build_room(version, args.members, args.forks, args.fork_events, args.seed)
        build_s = time.process_time() - t0
        sizes = [len(s) for s in states]
        ours, ours_cpu = run_ranvier(rb, states, args.repeat)
        theirs = run_synapse(python, rb, states, args.repeat)
        theirs_map = {(t, k): e for t, k, e in theirs["state"]}
        equal = ours == theirs_map
        syn_total = theirs["cpu"]
        syn_core = syn_total - theirs["cpu_store"]
        print(
            f"room v{version}: {len(rb.events)} events, state sets {sizes}, "
            f"resolved {len(ours)} keys (built in {build_s:.1f}s)"
        )
        print(f"  results equal: {equal}")
        print(
            f"  ranvier CPU:                      {ours_cpu * 1000:9.1f} ms (best of {args.repeat})"
        )
        print(
            f"  Synapse CPU (total):              {syn_total * 1000:9.1f} ms "
            f"(best of {args.repeat})"
        )
        print(f"  Synapse CPU (without auth diff):  {syn_core * 1000:9.1f} ms")
        print(f"  ratio Synapse total / ranvier:    {syn_total / ours_cpu:9.1f}x")
        print(f"  ratio Synapse w/o diff / ranvier: {syn_core / ours_cpu:9.1f}x")
        if not equal:
            diff = {
                k: (ours.get(k), theirs_map.get(k))
                for k in set(ours) | set(theirs_map)
                if ours.get(k) != theirs_map.get(k)
            }
            print(f"  MISMATCH on {len(diff)} keys, e.g. {list(diff.items())[:3]}")
            raise SystemExit(1)


if __name__ == "__main__":
    main()

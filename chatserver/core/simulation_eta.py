"""How right the queue ETA is: the simulator's ETA errors at occupancy 0.6-0.9, single and
multi-skill, with and without patience (the table in docs/routing.md).

    python -m chatserver.core.simulation_eta [--chats 20000] [--seed 1] [--handle-cv 1.0]

Each row runs ``simulate`` with ``track_eta``: every ETA a visitor was shown (at entry and at
every change, as the live queue frames) beside the wait that followed, over answered chats.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chatserver.core.eta import EtaAccuracy
from chatserver.core.routing import Needs
from chatserver.core.simulation import SimConfig, simulate

H = 180.0  # seconds: a typical chat handle time
LOADS = (0.6, 0.7, 0.8, 0.9)  # offered load per slot, lambda h / slots
PATIENCE = 120.0  # seconds: a visitor who leaves after two minutes on average
# A two-language desk: specialists per topic, two bilingual generalists, two Persian agents;
# chats relax to the language after 90 s (the default steps).
MULTI_AGENTS: Sequence[Mapping[str, int]] = (
    [{"billing": 4, "lang:en": 5}] * 4 + [{"tech": 4, "lang:en": 5}] * 4
    + [{"billing": 3, "tech": 3, "lang:en": 5, "lang:fa": 5}] * 2
    + [{"billing": 2, "tech": 2, "lang:fa": 5}] * 2)
MULTI_MIX = ((0.35, Needs({"billing": 3}, "lang:en")), (0.35, Needs({"tech": 3}, "lang:en")),
             (0.15, Needs({"billing": 2}, "lang:fa")), (0.15, Needs({"tech": 2}, "lang:fa")))


@dataclass(frozen=True)
class Row:
    desk: str  # "single" (10 agents, one skill) or "multi" (MULTI_AGENTS)
    patience: float | None
    load: float
    entry: EtaAccuracy
    every: EtaAccuracy


def config(desk: str, load: float, patience: float | None, chats: int,
           handle_cv: float | None = None) -> SimConfig:
    """One desk at one offered load, measured over about ``chats`` arrivals."""
    slots = len(MULTI_AGENTS) if desk == "multi" else 10
    rate = slots * load / H
    shape = ({"agent_skills": MULTI_AGENTS, "needs_mix": MULTI_MIX} if desk == "multi"
             else {"agents": slots})
    return SimConfig(arrival_rate=rate, handle_time=H, duration=chats / rate,
                     patience=patience, track_eta=True, handle_cv=handle_cv,
                     **shape)


def sweep(chats: int, seed: int = 1, handle_cv: float | None = None,
          desks: Sequence[str] = ("single", "multi"),
          patiences: Sequence[float | None] = (None, PATIENCE),
          loads: Sequence[float] = LOADS) -> list[Row]:
    """Every (desk, patience, load) row, each run with the same seed."""
    rows = []
    for desk in desks:
        for patience in patiences:
            for load in loads:
                result = simulate(config(desk, load, patience, chats, handle_cv),
                                  random.Random(seed))
                assert result.eta_entry is not None and result.eta_all is not None
                rows.append(Row(desk, patience, load, result.eta_entry, result.eta_all))
    return rows


def format_rows(rows: Sequence[Row]) -> str:
    """A Markdown table: MdAPE, share within +-30 % and median bias, at entry and overall."""
    lines = ["| desk | patience | load | ETAs at entry | MdAPE | within ±30 % | bias "
             "| all ETAs | MdAPE | within ±30 % |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        patience = f"{r.patience:.0f} s" if r.patience else "none"
        lines.append(
            f"| {r.desk} | {patience} | {r.load:.1f} | {r.entry.count} "
            f"| {r.entry.median_ape:.0%} | {r.entry.within_30:.0%} | {r.entry.median_bias:+.0%} "
            f"| {r.every.count} | {r.every.median_ape:.0%} | {r.every.within_30:.0%} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--chats", type=int, default=20_000, help="arrivals per row")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--handle-cv", type=float, default=None,
                        help="lognormal handle times of this sd / mean (default exponential)")
    args = parser.parse_args(argv)
    print(format_rows(sweep(args.chats, args.seed, args.handle_cv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

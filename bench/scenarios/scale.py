"""How big a run is (`Scale`, the named `SCALES`) and the shape of a scenario's result."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..stats import CHAT, ECHO, summarize


@dataclass(frozen=True)
class Scale:
    """How big and how long; `standard` is the issue's targets on a 2-core machine."""

    name: str
    idle: int
    conversations: int
    rate: float  # messages/s offered over all conversations, both sides together
    storm: int
    typing_conversations: int
    supervisors: int
    typing_rate: float  # typing frames/s over all visitors
    warmup: float
    window: float
    reps: int
    max_messages: int | None = None
    # redis_two_process: the offered rate climbs from ramp_start by ramp_factor until delivery
    # falls behind, then `ramp_refine` bisections; at most ramp_steps steps of ramp_window s.
    ramp_start: float = 1000.0
    ramp_factor: float = 1.5
    ramp_refine: int = 2
    ramp_steps: int = 9
    ramp_warmup: float = 1.0
    ramp_window: float = 3.0
    # The fixed pauses (the server noticing dropped sockets, buffers settling before RSS is
    # read) are this share of their full length; the tiny scale measures nothing with them.
    pause: float = 1.0


SCALES = {
    # tiny: the test suite's (tests/test_bench.py), every scenario end to end in half-second
    # windows; nothing is judged from its figures
    "tiny": Scale("tiny", idle=5, conversations=5, rate=20, storm=5, typing_conversations=3,
                  supervisors=1, typing_rate=20, warmup=0.1, window=0.5, reps=1,
                  max_messages=20, ramp_start=10, ramp_factor=2, ramp_refine=0, ramp_steps=2,
                  ramp_warmup=0.1, ramp_window=0.5, pause=0.2),
    # quick: a look in about 3 minutes (`make bench SCALE=quick`, issue 22; 3m59s with 4-step
    # ramps): two repetitions, ramps of at most 3 steps without bisection
    "quick": Scale("quick", idle=1000, conversations=200, rate=400, storm=500,
                   typing_conversations=100, supervisors=3, typing_rate=200, warmup=1.0,
                   window=3.0, reps=2, ramp_start=400, ramp_refine=0, ramp_steps=3,
                   ramp_window=1.5),
    "standard": Scale("standard", idle=10_000, conversations=1000, rate=2000, storm=5000,
                      typing_conversations=500, supervisors=5, typing_rate=1000, warmup=2.0,
                      window=8.0, reps=3, ramp_start=500),
}
DRAIN = 3.0  # seconds to wait for frames sent at the end of a window


def scenario_result(name: str, scale: Scale, params: dict[str, Any],
                    slices: list[dict[str, Any]], metrics: list[str], notes: str = "",
                    kinds: tuple[str, str] = (CHAT, ECHO)) -> dict[str, Any]:
    """What a scenario returns: its scale and parameters, its slices and their summary."""
    return {"scenario": name, "scale": asdict(scale), "params": params, "slices": slices,
            "summary": summarize(slices, metrics, kinds), "notes": notes, "kinds": list(kinds)}

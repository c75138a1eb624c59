"""Finglish and Arabizi: the two ways of matching them, measured on tests/data/romanized_dev.jsonl.

``python bench/romanized_eval.py [--json]``.  The knowledge base is the default one
(knowledge_base/default/{en,fa,ar,zh}.json); every message is asked on an English page.

* **skeleton** (what the bot does, :mod:`bot.romanize`): the Persian and Arabic entries are also
  indexed as consonant skeletons and the message's skeleton is matched there.
* **transliterate**: the message is written in Arabic script by rule (two candidates: short
  vowels dropped, and ``a``/``o`` written as ا/و) and matched in the ordinary Persian or Arabic
  index; an entry's score is its best over the candidates.  Kept here, not in the bot, because
  it measured worse.

Both use the same detector (:func:`bot.romanize.romanized_language`) to pick the language;
"detected" is its share of messages recognised.  Also reports how many of the Banking77 and
CLINC150 valid messages the detector takes for Finglish or Arabizi (it must be none).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot import Bot, Entry  # noqa: E402
from bot.romanize import romanized_language  # noqa: E402

DEV = ROOT / "tests" / "data" / "romanized_dev.jsonl"
DATASETS = ROOT.parent / "shared" / "datasets"

_DIGRAPHS = {
    "fa": {"sh": "ش", "ch": "چ", "kh": "خ", "gh": "ق", "zh": "ژ", "th": "ت", "ph": "ف"},
    "ar": {"sh": "ش", "ch": "ش", "kh": "خ", "gh": "غ", "th": "ث", "dh": "ذ", "ph": "ف",
           "3'": "غ", "7'": "خ"},
}
_FA = "بپتسجهدرزفککگلمنوویقخ"
_AR = "ببتسجهدرزفککجلمنفویقک"
_LETTERS = {"fa": dict(zip("bptsjhdrzfkcglmnvwyqx", _FA, strict=True)),
            "ar": dict(zip("bptsjhdrzfkcglmnvwyqx", _AR, strict=True))}
_AR_DIGITS = {"2": "ا", "3": "ع", "5": "خ", "7": "ح", "9": "ق", "6": "ط", "8": "غ"}


def _word(word: str, lang: str, long_a: bool) -> str:
    out: list[str] = []
    i = 0
    n = len(word)
    while i < n:
        two = word[i : i + 2]
        ch = word[i]
        first, last = i == 0, i == n - 1
        if two in _DIGRAPHS[lang]:
            out.append(_DIGRAPHS[lang][two])
            i += 2
            continue
        if two in ("ee", "ii", "ei", "ey", "ai"):
            out.append("ی" if not first else "ای")
            i += 2
            continue
        if two in ("oo", "ou", "uu"):
            out.append("و" if not first else "او")
            i += 2
            continue
        if lang == "ar" and ch in _AR_DIGITS:
            out.append(_AR_DIGITS[ch])
        elif ch in "aeo":
            if first:
                out.append("ا")
            elif last:
                out.append({"a": "ا", "e": "ه", "o": "و"}[ch])
            elif long_a and ch == "a":
                out.append("ا")
            elif long_a and ch == "o":
                out.append("و")
        elif ch == "i":
            out.append("ای" if first else "ی")
        elif ch == "u":
            out.append("او" if first else "و")
        elif ch in _LETTERS[lang]:
            out.append(_LETTERS[lang][ch])
        elif ch.isdigit():
            out.append(ch)
        i += 1
    return "".join(out)


def transliterate(text: str, lang: str) -> list[str]:
    """Two Arabic-script candidates for a romanized message."""
    words = re.findall(r"[a-z0-9']+", re.sub(r"c(?=[eiy])", "s", text.casefold()))
    out = []
    for long_a in (False, True):
        parts: list[str] = []
        article = False
        for w in words:
            if lang == "ar" and w in ("el", "al", "il", "l"):
                article = True
                continue
            t = _word(w, lang, long_a)
            parts.append(("ال" + t) if article else t)
            article = False
        out.append(" ".join(parts))
    return out


def _default_bot() -> tuple[Bot, dict[int, str]]:
    bot = Bot()
    titles: dict[int, str] = {}
    n = 0
    for lang in ("en", "fa", "ar", "zh"):
        data = json.loads((ROOT / "knowledge_base" / "default" / f"{lang}.json").read_text())
        for e in data["entries"]:
            if any(t.startswith("smalltalk:") for t in e.get("tags", ())):
                continue  # small-talk replies are not matched as answers
            n += 1
            bot.upsert(Entry(n, lang, e["title"], tuple(e["questions"]), e["answer"]))
            titles[n] = e["title"]
    return bot, titles


def run() -> dict[str, dict[str, float]]:
    bot, titles = _default_bot()
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line]
    result: dict[str, dict[str, float]] = {}
    for lang in ("fa", "ar"):
        mine = [r for r in rows if r["lang"] == lang]
        counts = {"detected": 0, "skeleton_top1": 0, "skeleton_top3": 0,
                  "transliterate_top1": 0, "transliterate_top3": 0}
        for row in mine:
            detected = romanized_language(row["text"]) == lang
            counts["detected"] += detected
            # skeleton: what Bot.search does for a romanized message on an English page
            ranked = [titles[m.entry_id] for m in bot.search(row["text"], "en", k=3)]
            counts["skeleton_top1"] += bool(ranked) and ranked[0] == row["label"]
            counts["skeleton_top3"] += row["label"] in ranked
            # transliterate: same routing, Arabic-script candidates in the ordinary index
            if detected:
                best: dict[int, float] = {}
                for cand in transliterate(row["text"], lang):
                    for s in bot._indexes[lang].search(cand, 3):
                        best[s.entry_id] = max(best.get(s.entry_id, 0.0), s.score)
                order = sorted(best, key=lambda e: (-best[e], e))[:3]
                ranked = [titles[e] for e in order]
            else:
                ranked = [titles[m.entry_id] for m in bot.search(row["text"], "en", k=3)]
            counts["transliterate_top1"] += bool(ranked) and ranked[0] == row["label"]
            counts["transliterate_top3"] += row["label"] in ranked
        result[lang] = {k: round(v / len(mine), 3) for k, v in counts.items()}
        result[lang]["messages"] = len(mine)
    fired = 0
    total = 0
    for name in ("banking77_en.valid.jsonl", "clinc150_en.valid.jsonl"):
        path = DATASETS / name
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                total += 1
                fired += romanized_language(json.loads(line)["text"]) is not None
    result["english_valid"] = {"messages": total, "taken_for_romanized": fired}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run()
    if args.json:
        print(json.dumps(result))
        return
    for lang, figures in result.items():
        print(lang, " ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()

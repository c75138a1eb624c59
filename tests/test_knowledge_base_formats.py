"""JSON and CSV import/export: exact round-trips, and every bad input refused with its line."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge_base import formats
from knowledge_base.formats import (
    CSV_COLUMNS,
    ImportFailed,
    ImportProblem,
    export_csv,
    export_json,
    import_csv,
    import_json,
)
from knowledge_base.model import Entry

HEADER = ",".join(CSV_COLUMNS)


def entry(title: str, *questions: str, **changes: object) -> Entry:
    values: dict[str, object] = {
        "title": title,
        "questions": questions or (f"{title}?",),
        "answer": f"About {title}.",
        "language": "en",
        "tags": ("faq",),
        "skill": "general",
        "status": "published",
    }
    values.update(changes)
    return Entry(**values)  # type: ignore[arg-type]


SAMPLE = [
    entry("Track an order", "Where is my order?", "tracking pls", id=4, version=3),
    entry(
        "Quotes, commas and lines",
        'He said "hi", then left',
        "=SUM(A1:A3) looks like a formula",
        "-1 is negative",
        "+49 is a prefix",
        "@mention",
        "'=already quoted",
        answer='- first, "quoted"\n- second\n\n**bold** [link](https://x.example/?a=1&b=2)',
        tags=("a", "b c"),
        skill=None,
        status="draft",
    ),
    entry(
        "پیگیری سفارش", "سفارشم کجاست؟", "می\u200cخواهم بسته\u200cام را پیگیری کنم", language="fa"
    ),
    entry("تتبع الطلب", "أين طلبي؟", language="ar", skill="orders"),
    entry("查询订单", "我的订单到哪了？", language="zh", tags=()),
    entry("Neutral", "ok?", language=""),
]


def problems(raised: pytest.ExceptionInfo[ImportFailed]) -> list[tuple[int, str | None]]:
    return [(problem.line, problem.field) for problem in raised.value.errors]


# --- JSON --------------------------------------------------------------------------------------


def test_json_round_trip_is_exact() -> None:
    text = export_json(SAMPLE)
    assert import_json(text) == SAMPLE
    assert import_json(text.encode("utf-8")) == SAMPLE
    assert json.loads(text)["version"] == 1
    assert "سفارشم" in text  # readable, not \u-escaped


def test_json_accepts_a_bare_list_and_a_bom() -> None:
    body = json.dumps([e.to_dict() for e in SAMPLE], ensure_ascii=False)
    assert import_json(body) == SAMPLE
    assert import_json(b"\xef\xbb\xbf" + body.encode()) == SAMPLE
    assert import_json('{"version": 1, "entries": []}') == []


def test_json_syntax_error_names_its_line() -> None:
    with pytest.raises(ImportFailed) as raised:
        import_json('{"version": 1,\n "entries": [\n  {"title": "x",}\n]}')
    assert problems(raised) == [(3, None)]
    assert "not valid JSON" in raised.value.errors[0].message


def test_json_bad_entries_are_named_by_the_line_they_start_on() -> None:
    good = json.dumps(entry("Good").to_dict())
    document = (
        '{\n  "version": 1,\n  "entries": [\n'
        f"    {good},\n"  # line 4
        '    {"title": "", "questions": ["ok", ""],\n'  # line 5
        '     "answer": "a", "language": "en"},\n'
        "    42,\n"  # line 7
        '    {"title": "t", "questions": ["q"], "answer": "a", "language": "en",\n'  # line 8
        '     "status": "live"}\n'
        "  ]\n}\n"
    )
    with pytest.raises(ImportFailed) as raised:
        import_json(document)
    assert problems(raised) == [(5, "title"), (5, "questions[1]"), (7, None), (8, "status")]


@pytest.mark.parametrize(
    ("document", "field", "fragment"),
    [
        ('{"version": 2, "entries": []}', "version", "must be 1"),
        ('{"version": true, "entries": []}', "version", "must be 1"),
        ('{"entries": []}', "version", "must be 1"),
        ('{"version": 1, "entries": {}}', "entries", "list"),
        ('{"version": 1, "entries": [], "extra": 1}', "extra", "unknown key"),
        ('"just a string"', None, "must be an object"),
    ],
)
def test_json_document_shape_problems(document: str, field: str | None, fragment: str) -> None:
    with pytest.raises(ImportFailed) as raised:
        import_json(document)
    assert raised.value.errors[0].field == field
    assert fragment in raised.value.errors[0].message


def test_json_duplicate_ids_and_questions_across_entries_are_refused() -> None:
    first = entry("A", "Where is my order?", id=1)
    second = entry("B", "where is  MY order?", id=1)
    other_language = entry("C", "Where is my order?", language="de")
    text = export_json([first, second, other_language])
    starts = [n for n, line in enumerate(text.splitlines(), start=1) if line == "    {"]
    assert len(starts) == 3  # export_json starts each entry on a line of its own
    with pytest.raises(ImportFailed) as raised:
        import_json(text)
    assert problems(raised) == [(starts[1], "id"), (starts[1], "question")]
    assert f"line {starts[0]}" in raised.value.errors[1].message


def test_json_problems_in_a_one_line_document_still_count_every_entry() -> None:
    body = json.dumps([entry("A", "same").to_dict(), entry("B", "same").to_dict()])
    with pytest.raises(ImportFailed) as raised:
        import_json(body)
    assert problems(raised) == [(1, "question")]


def test_json_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "MAX_ROWS", 1)
    with pytest.raises(ImportFailed) as raised:
        import_json(export_json(SAMPLE[:2]))
    assert "more than 1 entries" in raised.value.errors[0].message
    monkeypatch.setattr(formats, "MAX_JSON_BYTES", 100)
    with pytest.raises(ImportFailed) as raised:
        import_json(" " * 101)
    assert "limit is 100" in raised.value.errors[0].message


def test_json_deep_nesting_is_a_problem_not_a_crash() -> None:
    with pytest.raises(ImportFailed) as raised:
        import_json("[" * 100_000 + "]" * 100_000)
    assert problems(raised) == [(1, None)]


@pytest.mark.parametrize("bad", ["\ud800", "\x00", "\x1b"])
def test_json_unknown_keys_are_named_escaped(bad: str) -> None:
    """A problem names the key; a lone surrogate as itself could not even be sent back."""
    entry = {"title": "T", "questions": ["q"], "answer": "A", "language": "en", f"k{bad}": 1}
    for document in ({"version": 1, "entries": [], f"k{bad}": 1},
                     {"version": 1, "entries": [entry]}):
        with pytest.raises(ImportFailed) as raised:
            import_json(json.dumps(document))
        assert [p.field for p in raised.value.errors] == [ascii(f"k{bad}")]
        json.dumps([p.field for p in raised.value.errors], ensure_ascii=False).encode()


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_round_trip_keeps_everything_but_id_and_version() -> None:
    text = export_csv(SAMPLE)
    expected = [dataclasses.replace(e, id=None, version=1) for e in SAMPLE]
    assert import_csv(text) == expected
    assert import_csv(text.encode("utf-8")) == expected
    assert import_csv(export_csv(SAMPLE, bom=False).encode()) == expected


def test_csv_export_shape_and_formula_guard() -> None:
    text = export_csv(SAMPLE)
    assert text.startswith("\ufeff" + HEADER + "\r\n")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert sum(len(e.questions) for e in SAMPLE) == len(rows) - 1
    assert rows[1][0] == "4"  # the id, for a person's reference
    assert rows[3][0] == "entry-2"
    # No cell a spreadsheet would evaluate: each starts with a "'" instead.
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]
    assert "'=SUM(A1:A3) looks like a formula" in cells
    assert "''=already quoted" in cells


def test_csv_groups_rows_by_key_or_by_title_and_language() -> None:
    text = (
        f"{HEADER}\n"
        "k1,en,Shipping,How much is shipping?,Costs €4.95.,cost;Shipping,shipping,published\n"
        ",en,Returns,Can I return it?,30 days.,,returns,\n"
        "k1,en,Shipping,  do you ship free  ,Costs €4.95.,cost;shipping,shipping,published\n"
        ",EN,returns,return policy,30 days.,,returns,\n"
        ",fa,Returns,مرجوعی,۳۰ روز,,,published\n"
    )
    shipping, returns, persian = import_csv(text)
    assert shipping.questions == ("How much is shipping?", "do you ship free")
    assert shipping.tags == ("cost", "shipping")
    assert returns.questions == ("Can I return it?", "return policy")
    assert returns.status == "draft"  # empty status: never published by accident
    assert (persian.language, persian.skill, persian.status) == ("fa", None, "published")


def test_csv_minimal_columns_in_any_order() -> None:
    [only] = import_csv("Question,Answer,Title,Language\r\nq1,a,t,en\r\nq2,a,t,en\r\n")
    assert (only.questions, only.status, only.tags) == (("q1", "q2"), "draft", ())


CSV_BAD_ROWS = (
    f"{HEADER}\n"  # 1
    "a,en,Title,q1,Answer,,general,published\n"  # 2
    "a,en,Title,q2,Other answer,,general,published\n"  # 3: answer differs from line 2
    "b,en,B,,Answer,,general,published\n"  # 4: empty question
    "c,en,C,q3,Answer,,Bad Skill,published\n"  # 5: bad skill
    "d,en,D,q1,Answer,,general,published\n"  # 6: q1 already in entry a
    "e,en,E,q4\n"  # 7: too few fields
    "\n"  # 8: blank, skipped
    ',en,F,"multi\nline question",Answer,,general,published\n'  # 9-10: newline in a question
    "g,en,G,q5,Answer,,general,live\n"  # 11: bad status
)


def test_csv_every_bad_line_is_named_and_nothing_returned() -> None:
    with pytest.raises(ImportFailed) as raised:
        import_csv(CSV_BAD_ROWS)
    assert problems(raised) == [
        (3, "answer"),
        (4, "question"),
        (5, "skill"),
        (6, "question"),
        (7, None),
        (11, "status"),
    ]
    messages = {p.line: p.message for p in raised.value.errors}
    assert "line 2" in messages[3]
    assert "line 2" in messages[6]
    assert messages[4] == "must not be empty"


def test_csv_entry_level_problem_points_at_the_entry_first_row() -> None:
    text = f"{HEADER}\n" + "".join(f"k,en,,q{n},A,,,\n" for n in range(3))
    with pytest.raises(ImportFailed) as raised:
        import_csv(text)
    assert problems(raised) == [(2, "title")]


def test_csv_question_problem_points_at_its_own_row() -> None:
    text = f"{HEADER}\nk,en,T,fine,A,,,\nk,en,T,{'x' * 501},A,,,\n"
    with pytest.raises(ImportFailed) as raised:
        import_csv(text)
    assert problems(raised) == [(3, "question")]


@pytest.mark.parametrize(
    ("text", "expected", "fragment"),
    [
        ("", [(1, None)], "empty"),
        ("en,Track order,where is it?,See your account\n", [(1, None)], "missing header"),
        (f"{HEADER},notes\n", [(1, "notes")], "unknown column"),
        ("language,title,question,answer,title\n", [(1, "title")], "more than once"),
        ("language,title,question\n", [(1, "answer")], "required column"),
        (f'{HEADER}\nk,en,T,"broken"quote,A,,,\n', [(2, None)], "malformed CSV"),
    ],
)
def test_csv_file_level_problems(
    text: str, expected: list[tuple[int, str | None]], fragment: str
) -> None:
    with pytest.raises(ImportFailed) as raised:
        import_csv(text)
    assert problems(raised) == expected
    assert fragment in raised.value.errors[0].message


def test_csv_invalid_utf8_names_its_line() -> None:
    data = f"{HEADER}\nk,en,T,q,A,,,\n".encode() + "k,en,T,caf\xe9,A,,,\n".encode("cp1252")
    with pytest.raises(ImportFailed) as raised:
        import_csv(data)
    assert problems(raised) == [(3, None)]
    assert "UTF-8" in raised.value.errors[0].message


def test_csv_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "MAX_ROWS", 2)
    with pytest.raises(ImportFailed) as raised:
        import_csv(f"{HEADER}\nk,en,T,q1,A,,,\n\nk,en,T,q2,A,,,\nk,en,T,q3,A,,,\n")
    assert problems(raised) == [(5, None)]  # the blank line 3 does not count as a row
    monkeypatch.setattr(formats, "MAX_CSV_BYTES", 10)
    with pytest.raises(ImportFailed) as raised:
        import_csv(b"x" * 11)
    assert "limit is 10" in raised.value.errors[0].message


def test_import_problem_reads_like_a_sentence() -> None:
    assert (
        str(ImportProblem(3, "answer", "must not be empty")) == "line 3, answer: must not be empty"
    )
    assert str(ImportProblem(1, None, "empty")) == "line 1: empty"
    failed = ImportFailed([ImportProblem(9, None, "b"), ImportProblem(2, None, "a")])
    assert [p.line for p in failed.errors] == [2, 9]


_cell_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\u2028\u2029")
    | st.sampled_from(['"', ",", "'", "=", "+", "-", "@", ";", "\n", " "]),
    min_size=1,
    max_size=30,
).filter(lambda s: s.strip() and not any("\u202a" <= c <= "\u202e" for c in s))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(_cell_text, st.lists(_cell_text, min_size=1, max_size=3), _cell_text),
        min_size=1,
        max_size=4,
    )
)
def test_csv_round_trip_of_arbitrary_text(rows: list[tuple[str, list[str], str]]) -> None:
    entries = []
    seen: set[str] = set()
    for index, (title, questions, answer) in enumerate(rows):
        candidate = Entry(
            title=title, questions=tuple(questions), answer=answer, language="en", tags=()
        )
        # keep the entries distinct the way an import demands: no question in two entries
        keys = {q.casefold() for q in candidate.questions}
        if keys & seen:
            continue
        seen |= keys
        entries.append(dataclasses.replace(candidate, title=f"{index} {candidate.title}"))
    assert import_csv(export_csv(entries)) == entries
    assert import_json(export_json(entries)) == entries

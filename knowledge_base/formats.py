"""Import and export of knowledge-base entries as JSON and CSV.

Imports are all-or-nothing: the whole file is parsed and every entry validated before anything
is returned, and `ImportFailed` lists every problem with the line a person opening the file in
an editor would look at. Nothing here touches a file or the database; the caller passes bytes
in and stores the returned entries in one transaction.

JSON: `{"version": 1, "entries": [entry, ...]}` (a bare list of entries is accepted too), each
entry as `Entry.to_dict()` writes it; `id` and `version` are kept. A problem's line is the line
where the offending entry's `{` stands (line 1 for problems with the document as a whole).

CSV: one row per example question, columns `entry_key,language,title,question,answer,tags,
skill,status`, header required, tags joined with ";". Rows with the same non-empty entry_key,
or else the same language and title, form one entry, and must repeat the same title, answer,
tags, skill and status. A problem's line is the physical line where the row starts. CSV carries
no id and no version: entry_key only groups rows (an exported key is the entry's id, for a
person's reference, but a key typed into a spreadsheet must never overwrite an entry by
accident), so imported entries have `id=None` and `version=1`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from knowledge_base.model import Entry, EntryError, field_label, question_key, validate

FORMAT_VERSION = 1
# 5 MB of JSON: a large real knowledge base (a thousand entries) is about 1-2 MB; the bound keeps
# one upload, its decoded copy and the parsed entries comfortably in memory in a request.
MAX_JSON_BYTES = 5 * 1024 * 1024
# 20 MB of CSV: the same knowledge base, but CSV repeats each answer on every question row, which
# makes it 5-10 times the size of the JSON export; 5 MB would refuse our own export of a large KB.
MAX_CSV_BYTES = 20 * 1024 * 1024
# The largest file either import accepts: what an HTTP body limit for an upload should allow.
MAX_BYTES = max(MAX_JSON_BYTES, MAX_CSV_BYTES)
# 20,000 CSV rows (questions) or JSON entries: far beyond any support FAQ, and it bounds the
# all-or-nothing validation to about a second, so an import never holds a request for long.
MAX_ROWS = 20_000

CSV_COLUMNS = ("entry_key", "language", "title", "question", "answer", "tags", "skill", "status")
CSV_REQUIRED = ("language", "title", "question", "answer")
TAG_SEPARATOR = ";"

# Spreadsheets run a cell starting with one of these as a formula ("CSV injection"). Export
# prefixes such cells with "'" and import removes one "'", so text round-trips exactly.
_FORMULA_START = re.compile(r"'*[=+\-@\t\r]")
_GUARDED = re.compile(r"'+[=+\-@\t\r]")
_JSON_SPACE = re.compile(r"[ \t\n\r]*")


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """One thing wrong with an import: where (`line`, 1-based) and which field, if known."""

    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.field}" if self.field else "")
        return f"{where}: {self.message}"


class ImportFailed(ValueError):
    """An import was refused; `errors` names every problem found, in line order."""

    def __init__(self, errors: list[ImportProblem]) -> None:
        self.errors = sorted(errors, key=lambda problem: problem.line)
        shown = "; ".join(str(problem) for problem in self.errors[:5])
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"import failed: {shown}{more}")


# --- JSON --------------------------------------------------------------------------------------


def export_json(entries: Iterable[Entry]) -> str:
    """The JSON document `import_json` reads back to equal entries, one entry per indented block."""
    document = {"version": FORMAT_VERSION, "entries": [entry.to_dict() for entry in entries]}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def import_json(data: bytes | str) -> list[Entry]:
    """Parse and validate a JSON export; raise ImportFailed naming every bad entry's line."""
    text = _decode(data, MAX_JSON_BYTES)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        message = f"not valid JSON: {error.msg} (column {error.colno})"
        raise ImportFailed([ImportProblem(error.lineno, None, message)]) from None
    except RecursionError:  # thousands of nested brackets: hostile, never a real export
        raise ImportFailed([ImportProblem(1, None, "JSON nested too deeply")]) from None

    items = _json_entries(document)
    if len(items) > MAX_ROWS:
        raise ImportFailed([ImportProblem(1, None, f"more than {MAX_ROWS:,} entries")])
    lines = _json_entry_lines(text, len(items))
    problems: list[ImportProblem] = []
    entries: list[Entry] = []
    entry_lines: list[int] = []
    for line, item in zip(lines, items, strict=True):
        if not isinstance(item, dict):
            message = f"each entry must be an object, not {type(item).__name__}"
            problems.append(ImportProblem(line, None, message))
            continue
        try:
            entries.append(validate(item))
        except EntryError as error:
            problems.extend(ImportProblem(line, e.field, e.message) for e in error.errors)
            continue
        entry_lines.append(line)
    question_lines = [
        {question_key(question): line for question in entry.questions}
        for entry, line in zip(entries, entry_lines, strict=True)
    ]
    problems.extend(_id_problems(entries, entry_lines))
    problems.extend(_duplicate_problems(entries, question_lines))
    if problems:
        raise ImportFailed(problems)
    return entries


def _json_entries(document: object) -> list[object]:
    if isinstance(document, list):
        return document
    if not isinstance(document, dict):
        message = 'must be an object {"version": 1, "entries": [...]} or a list of entries'
        raise ImportFailed([ImportProblem(1, None, message)])
    problems = [
        ImportProblem(1, field_label(key), "unknown key; expected 'version' and 'entries'")
        for key in document
        if key not in ("version", "entries")
    ]
    version = document.get("version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        problems.append(ImportProblem(1, "version", f"must be {FORMAT_VERSION}, got {version!r}"))
    entries = document.get("entries")
    if not isinstance(entries, list):
        problems.append(ImportProblem(1, "entries", "must be a list of entries"))
    if problems:
        raise ImportFailed(problems)
    assert isinstance(entries, list)  # for type checkers: a non-list raised just above
    return entries


def _json_entry_lines(text: str, count: int) -> list[int]:
    """The line where each entry's value starts, by walking the already-valid document.

    The stdlib parser keeps no positions, so the top level is walked with `raw_decode`; a
    duplicate "entries" key resolves to the last one, as in `json.loads`.
    """
    decoder = json.JSONDecoder()

    def skip(position: int) -> int:
        return _JSON_SPACE.match(text, position).end()  # type: ignore[union-attr]  # * matches

    def array_offsets(position: int) -> list[int]:
        offsets: list[int] = []
        position = skip(position + 1)
        while text[position] != "]":
            offsets.append(position)
            position = skip(decoder.raw_decode(text, position)[1])
            if text[position] == ",":
                position = skip(position + 1)
        return offsets

    position = skip(0)
    offsets: list[int] = []
    if text[position] == "[":
        offsets = array_offsets(position)
    else:
        position = skip(position + 1)
        while text[position] != "}":
            key, position = decoder.raw_decode(text, position)
            position = skip(skip(position) + 1)  # past the ':'
            if key == "entries" and text[position] == "[":
                offsets = array_offsets(position)
            position = skip(decoder.raw_decode(text, position)[1])
            if text[position] == ",":
                position = skip(position + 1)
    if len(offsets) != count:  # cannot happen for a document json.loads accepted
        return [1] * count
    lines, line, counted = [], 1, 0
    for offset in offsets:
        line += text.count("\n", counted, offset)
        counted = offset
        lines.append(line)
    return lines


# --- CSV ---------------------------------------------------------------------------------------


def export_csv(entries: Iterable[Entry], *, bom: bool = True) -> str:
    """One row per question, as `import_csv` reads it.

    `bom`: start with U+FEFF, the only way to make Excel open UTF-8 as UTF-8 instead of
    mangling every non-Latin answer; the importer accepts either.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180 line ends
    writer.writerow(CSV_COLUMNS)
    for index, entry in enumerate(entries, start=1):
        key = str(entry.id) if entry.id is not None else f"entry-{index}"
        shared = (entry.title, entry.answer, TAG_SEPARATOR.join(entry.tags), entry.skill or "")
        title, answer, tags, skill = (_guard(cell) for cell in shared)
        for question in entry.questions:
            row = (key, entry.language, title, _guard(question), answer, tags, skill, entry.status)
            writer.writerow(row)
    return ("\ufeff" if bom else "") + buffer.getvalue()


def import_csv(data: bytes | str) -> list[Entry]:
    """Parse and validate a CSV export; raise ImportFailed naming every bad line."""
    text = _decode(data, MAX_CSV_BYTES)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems: list[ImportProblem] = []
    groups: dict[tuple[str, ...], _Group] = {}
    rows = 0
    try:
        header = _csv_header(next(reader, None))
        end = reader.line_num
        for row in reader:
            line, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # spreadsheets append empty rows; they carry nothing
            rows += 1
            if rows > MAX_ROWS:
                raise ImportFailed([ImportProblem(line, None, f"more than {MAX_ROWS:,} rows")])
            if len(row) != len(header):
                message = f"has {len(row)} fields but the header has {len(header)}"
                problems.append(ImportProblem(line, None, message))
                continue
            _add_row(groups, dict(zip(header, map(_unguard, row), strict=True)), line, problems)
    except csv.Error as error:
        # A broken quote makes the rest of the file unreadable; report where it stopped making
        # sense, with what was found before it.
        problems.append(ImportProblem(reader.line_num, None, f"malformed CSV: {error}"))

    entries: list[Entry] = []
    question_lines: list[dict[str, int]] = []
    for group in groups.values():
        try:
            entries.append(validate(group.data()))
        except EntryError as error:
            problems.extend(group.problem(e) for e in error.errors)
            continue
        question_lines.append(group.question_lines)
    problems.extend(_duplicate_problems(entries, question_lines))
    if problems:
        raise ImportFailed(problems)
    return entries


def _csv_header(row: list[str] | None) -> list[str]:
    if row is None:
        raise ImportFailed([ImportProblem(1, None, "the file is empty")])
    header = [cell.strip().lower() for cell in row]
    example = ",".join(CSV_COLUMNS)
    if not set(header) & set(CSV_COLUMNS):
        message = f"missing header row: the first line must name the columns, e.g. {example}"
        raise ImportFailed([ImportProblem(1, None, message)])
    problems = [
        ImportProblem(1, name or None, f"unknown column {name!r}; columns are {example}")
        for name in header
        if name not in CSV_COLUMNS
    ]
    problems += [
        ImportProblem(1, name, "column appears more than once")
        for name in CSV_COLUMNS
        if header.count(name) > 1
    ]
    problems += [
        ImportProblem(1, name, "required column is missing")
        for name in CSV_REQUIRED
        if name not in header
    ]
    if problems:
        raise ImportFailed(problems)
    return header


# The fields every row of one entry repeats, compared after the trimming validate() does anyway.
_SHARED_FIELDS = ("language", "title", "answer", "tags", "skill", "status")


@dataclass(slots=True)
class _Group:
    """The rows of one entry while the file is read."""

    line: int
    cells: dict[str, str]
    questions: list[str]
    question_lines: dict[str, int]
    row_lines: list[int]

    def data(self) -> dict[str, object]:
        tags = [tag for tag in self.cells.get("tags", "").split(TAG_SEPARATOR) if tag.strip()]
        return {
            "title": self.cells["title"],
            "questions": self.questions,
            "answer": self.cells["answer"],
            "language": self.cells["language"],
            "tags": tags,
            "skill": self.cells.get("skill") or None,
            # An empty or missing status imports as a draft: publishing is a deliberate act.
            "status": self.cells.get("status", "").strip().lower() or "draft",
        }

    def problem(self, error: EntryError) -> ImportProblem:
        # "questions[3]" is the fourth question row of this entry; point at that row.
        if error.field.startswith("questions["):
            index = int(error.field[len("questions[") : -1])
            return ImportProblem(self.row_lines[index], "question", error.message)
        field = "tags" if error.field.startswith("tags[") else error.field
        return ImportProblem(self.line, field, error.message)


def _add_row(
    groups: dict[tuple[str, ...], _Group],
    cells: dict[str, str],
    line: int,
    problems: list[ImportProblem],
) -> None:
    entry_key = cells.get("entry_key", "").strip()
    language = cells["language"].strip().lower()
    key = ("key", entry_key) if entry_key else ("title", language, question_key(cells["title"]))
    question = cells.pop("question")
    group = groups.get(key)
    if group is None:
        groups[key] = _Group(line, cells, [question], {question_key(question): line}, [line])
        return
    for name in _SHARED_FIELDS:
        if _comparable(name, cells.get(name, "")) != _comparable(name, group.cells.get(name, "")):
            message = (
                f"differs from line {group.line}, the entry's first row; "
                f"every row of an entry repeats the same {name}"
            )
            problems.append(ImportProblem(line, name, message))
            return
    group.questions.append(question)
    group.question_lines.setdefault(question_key(question), line)
    group.row_lines.append(line)


def _comparable(name: str, value: str) -> object:
    if name == "answer":
        return "\n".join(part.rstrip() for part in value.strip().splitlines())
    if name == "tags":
        return tuple(question_key(tag) for tag in value.split(TAG_SEPARATOR) if tag.strip())
    if name in ("language", "status"):
        return value.strip().lower()
    return question_key(value) if name == "title" else value.strip()


def _guard(cell: str) -> str:
    return "'" + cell if _FORMULA_START.match(cell) else cell


def _unguard(cell: str) -> str:
    return cell[1:] if _GUARDED.match(cell) else cell


# --- shared ------------------------------------------------------------------------------------


def _decode(data: bytes | str, limit: int) -> str:
    """Bytes to text, enforcing the size limit and strict UTF-8 (a leading BOM is dropped)."""
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > limit:
        message = f"file is {size:,} bytes; the limit is {limit:,} ({limit // 2**20} MB)"
        raise ImportFailed([ImportProblem(1, None, message)])
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        byte = data[error.start]
        message = (
            f"not valid UTF-8 (byte 0x{byte:02X}); save the file as UTF-8 "
            "(in Excel: 'CSV UTF-8'), not in a legacy encoding such as Windows-1252"
        )
        raise ImportFailed([ImportProblem(line, None, message)]) from None


def _id_problems(entries: list[Entry], lines: list[int]) -> list[ImportProblem]:
    first_line: dict[int, int] = {}
    problems = []
    for entry, line in zip(entries, lines, strict=True):
        if entry.id is None:
            continue
        if entry.id in first_line:
            message = f"id {entry.id} is also used by the entry at line {first_line[entry.id]}"
            problems.append(ImportProblem(line, "id", message))
        else:
            first_line[entry.id] = line
    return problems


def _duplicate_problems(
    entries: list[Entry], question_lines: list[dict[str, int]]
) -> list[ImportProblem]:
    """The same question in two entries of one language: the bot could not choose between them."""
    first: dict[tuple[str, str], tuple[int, int]] = {}  # (language, question) -> (entry, line)
    problems = []
    for index, (entry, lines) in enumerate(zip(entries, question_lines, strict=True)):
        for question in entry.questions:
            key = question_key(question)
            seen_in, seen_line = first.setdefault((entry.language, key), (index, lines[key]))
            if seen_in != index:
                message = f"{question!r} is also a question of the entry at line {seen_line}"
                problems.append(ImportProblem(lines[key], "question", message))
    return problems

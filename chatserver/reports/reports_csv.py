"""CSV exports that open cleanly in spreadsheets: a UTF-8 BOM (so Excel reads Persian, Arabic
and Chinese names) and no formula injection (a text cell starting = + - @ is quoted with ')."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from chatserver.core.metrics import ConversationFacts

BOM = "\ufeff"
# OWASP "CSV injection": these start a formula in Excel, LibreOffice and Google Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

CONVERSATION_COLUMNS = (
    "conversation_id", "started", "language", "topic", "skills", "agents", "asked",
    "answered", "abandoned", "queue_wait_s", "first_response_s", "handle_s", "responses",
    "transferred", "closed", "closed_by", "resolved", "rating", "nps", "repeat_contact",
    "labels",
)


def cell(value: Any) -> Any:
    """A value as written: numbers as they are, None empty, text guarded against formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, int):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180 line ends
    writer.writerow([cell(h) for h in header])
    writer.writerows([cell(v) for v in row] for row in rows)
    return out.getvalue()


def conversation_row(f: ConversationFacts, names: Mapping[str, str], tz: tzinfo,
                     label_names: Mapping[str, str] | None = None) -> list[Any]:
    """One chat's row; `label_names` (label id -> current name) names its labels."""
    label_names = label_names or {}
    started = datetime.fromtimestamp(f.started_ms / 1000, UTC).astimezone(tz)
    return [
        f.conversation_id, started.isoformat(timespec="seconds"), f.language, f.topic,
        " ".join(f.skills), ", ".join(names.get(a, f"#{a}") for a in f.agents),
        f.asked, f.queue_wait_s is not None if f.asked else None, f.abandoned,
        f.queue_wait_s, f.first_response_s, f.handle_s, len(f.responses), f.transferred,
        f.closed, f.closed_by, f.resolved,
        f.survey.rating if f.survey and f.owns_outcome else None,
        f.survey.nps if f.survey and f.owns_outcome else None, f.repeat_contact,
        ", ".join(sorted(label_names.get(label, f"#{label}") for label in f.labels)),
    ]

"""The filter that keeps a client's invalid UTF-8 to one rate-limited WARNING line (the live
check, on the real server's log, is in test_hostile_input.py)."""

from __future__ import annotations

import logging

from chatserver.web.log_hygiene import MESSAGE, ClientFaultFilter


def invalid_utf8_record() -> logging.LogRecord:
    try:
        b"\xff".decode()
    except UnicodeDecodeError as error:
        info = (type(error), error, error.__traceback__)
    return logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1,
                             "Invalid UTF-8 sequence received from client.", None, info)


def test_one_warning_line_per_interval_without_the_traceback() -> None:
    now = [0.0]
    guard = ClientFaultFilter(interval=10.0, clock=lambda: now[0])
    passed = []
    for t in (0.0, 1.0, 2.0, 9.9, 10.0, 10.5):
        now[0] = t
        record = invalid_utf8_record()
        if guard.filter(record):
            passed.append(record)
    assert [r.getMessage() for r in passed] == [
        MESSAGE, MESSAGE + " (3 more since the last such line)"]
    assert all(r.levelno == logging.WARNING and r.levelname == "WARNING" for r in passed)
    assert all(r.exc_info is None and r.exc_text is None for r in passed)
    formatted = logging.Formatter("%(levelname)s %(message)s").format(passed[0])
    assert "Traceback" not in formatted and formatted.startswith("WARNING ")


def test_other_records_pass_untouched() -> None:
    guard = ClientFaultFilter()
    record = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1,
                               "Exception in ASGI application\n", None, None)
    assert guard.filter(record) and record.levelno == logging.ERROR

"""`N_`: marks English text a staff page shows in its own language, in whichever layer it is
written (a refusal raised by a service, a page title), so that the catalogue test finds it
(tests/test_staff_catalogue.py) and a page can look it up (chatserver/web/catalogue.py)."""

from __future__ import annotations


def N_(msgid: str) -> str:
    """The msgid itself: it is translated where it is shown."""
    return msgid

"""What the server's e-mails say: plain data in, a mail to queue out, and its MIME bytes.

Pure: no sockets, no clock, no randomness. A mail is composed when what causes it is stored
(an offline message, a visitor's transcript request) and kept whole in the outbox, so every
retry sends the same bytes under the same Message-ID, which receivers use to drop a second
copy after a crash between the SMTP server's "250" and the outbox's "sent".

Every mail is multipart/alternative: a plain-text part always, then HTML in which every value
is escaped and every line carries `dir="auto"`, so a Persian line in an English mail (or an
English address in an Arabic one) runs in its own direction; the page itself is `dir="rtl"`
for Persian and Arabic.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses

from .mail_words import RTL, language_of, word

OFFLINE_ALERT = "offline_alert"
TRANSCRIPT = "transcript"


class BadAddress(ValueError):
    """An address a mail cannot be sent to (the message says which and why)."""


def mailbox(value: str, what: str) -> str:
    """`value` as one checked address ("Name <a@b.c>" or "a@b.c"), or BadAddress naming
    `what`: no line breaks (header injection), exactly one address, a domain with a dot. An
    international domain is written in its ASCII form (bücher.de -> xn--bcher-kva.de), which
    every SMTP server and every Reply-To takes; only a non-ASCII local part needs SMTPUTF8."""
    if "\r" in value or "\n" in value:
        raise BadAddress(f"{what}: an address cannot hold a line break")
    found = getaddresses([value])
    if len(found) != 1 or not found[0][1]:
        raise BadAddress(f"{what}: {value!r} is not one e-mail address")
    name, address = found[0]
    local, _, domain = address.rpartition("@")
    if not local or "." not in domain.strip(".") or any(c.isspace() for c in address):
        raise BadAddress(f"{what}: {address!r} is not an e-mail address (name@example.com)")
    if not domain.isascii():
        try:
            address = f"{local}@{domain.encode('idna').decode('ascii')}"
        except UnicodeError:
            raise BadAddress(f"{what}: {domain!r} is not a domain name") from None
    try:
        Address(display_name=name, addr_spec=address)
    except (ValueError, IndexError) as error:
        raise BadAddress(f"{what}: {address!r} is not an e-mail address ({error})") from None
    return f"{name} <{address}>" if name else address


def address_only(value: str) -> str:
    """The bare address of a checked mailbox ("Support <s@x.y>" -> "s@x.y")."""
    return getaddresses([value])[0][1]


@dataclass(frozen=True)
class OutboxMail:
    """A composed mail, as the outbox keeps it. `key` names its cause (one mail per cause);
    `visitor_id` is whose personal data it holds (erasure deletes it)."""

    key: str
    kind: str
    visitor_id: str
    recipient: str
    reply_to: str
    subject: str
    text: str
    html: str
    message_id: str


def message_id(key: str, sender: str) -> str:
    """A Message-ID fixed by the mail's cause: the same on every retry and in every process."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = address_only(sender).rpartition("@")[2] or "chatserver.invalid"
    return f"<{digest}@{domain}>"


def _when(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _page(language: str, title: str, parts: Iterable[str]) -> str:
    direction = "rtl" if language in RTL else "ltr"
    return (f'<!doctype html><html lang="{language}" dir="{direction}"><head>'
            f'<meta charset="utf-8"><title>{html.escape(title)}</title></head>'
            f'<body dir="{direction}">{"".join(parts)}</body></html>')


def _para(text: str) -> str:
    """A paragraph in its own direction; the text escaped, its line breaks kept."""
    lines = "<br>".join(html.escape(line) for line in text.split("\n"))
    return f'<p dir="auto">{lines}</p>'


def _facts(rows: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """Labelled values as text lines and as an HTML table; each value isolated (bdi)."""
    text = "\n".join(f"{label}: {value}" for label, value in rows)
    cells = "".join(f"<tr><th>{html.escape(label)}</th><td><bdi>{html.escape(value)}</bdi></td>"
                    "</tr>" for label, value in rows)
    return text, f"<table>{cells}</table>"


def offline_alert(*, visitor_id: str, client_id: str, email: str, text: str, topic: str,
                  visitor_language: str, page_url: str, ts_ms: int, to: str, sender: str,
                  language: str) -> OutboxMail:
    """The team's copy of a message left while nobody could answer, in the desk's language,
    with Reply-To the visitor (when their address is a valid one)."""
    lang = language_of(language)
    try:
        reply_to = address_only(mailbox(email, "the visitor's e-mail"))
    except BadAddress:
        reply_to = ""  # still delivered: the address stays in the body for a person to read
    subject = word("Message left while nobody was online, from {email}", lang,
                   email=email.replace("\n", " "))
    intro = word("A visitor left this message while nobody could answer.", lang)
    facts = [(word("E-mail", lang), email), (word("Topic", lang), topic),
             (word("Language", lang), visitor_language), (word("Page", lang), page_url),
             (word("Sent", lang), _when(ts_ms))]
    fact_text, fact_html = _facts([(k, v) for k, v in facts if v])
    hint = word("Reply to this e-mail to answer them.", lang) if reply_to else ""
    body = "\n\n".join(part for part in (intro, text, fact_text, hint) if part)
    page = _page(lang, subject, [_para(intro), '<blockquote dir="auto">',
                                 "".join(_para(p) for p in text.split("\n\n")), "</blockquote>",
                                 fact_html, _para(hint) if hint else ""])
    key = f"offline:{visitor_id}:{client_id}"
    return OutboxMail(key, OFFLINE_ALERT, visitor_id, to, reply_to, subject, body + "\n", page,
                      message_id(key, sender))


@dataclass(frozen=True)
class Line:
    """One line of a transcript as the visitor saw it: who ("visitor", "bot", "agent"), the
    name shown, when, the text, and a file's name if the line carried one."""

    sender: str
    author: str
    ts_ms: int
    text: str
    file_name: str = ""


def transcript(*, visitor_id: str, conversation_id: str, lines: Sequence[Line], started_ms: int,
               to: str, sender: str, language: str) -> OutboxMail:
    """The visitor's own copy of a chat, in their language."""
    lang = language_of(language)
    subject = word("Your chat transcript", lang)
    intro = word("Here is the chat you had with us on {date}, as you saw it.", lang,
                 date=_when(started_ms)[:10])
    footer = word("You asked for this e-mail at the end of the chat. If you did not, "
                  "you can ignore it.", lang)
    text_parts, html_parts = [intro, ""], [_para(intro)]
    for line in lines:
        who = (word("You", lang) if line.sender == "visitor" else word("Bot", lang)
               if line.sender == "bot" else line.author or word("Agent", lang))
        said = "\n".join(part for part in (
            line.text, word("File: {name}", lang, name=line.file_name) if line.file_name
            else "") if part)
        stamp = _when(line.ts_ms)[11:]
        text_parts.append(f"[{stamp}] {who}:\n{said}\n")
        html_parts.append(f'<div class="line"><p dir="auto"><b><bdi>{html.escape(who)}</bdi>'
                          f"</b> <small>{stamp}</small></p>{_para(said)}</div>")
    text_parts += ["--", footer]
    html_parts += ["<hr>", _para(footer)]
    key = f"transcript:{conversation_id}"
    return OutboxMail(key, TRANSCRIPT, visitor_id, to, "", subject, "\n".join(text_parts) + "\n",
                      _page(lang, subject, html_parts), message_id(key, sender))


def mime(mail: OutboxMail, sender: str, created_ms: int) -> EmailMessage:
    """The message to hand to SMTP: text first, HTML as the alternative (RFC 2046: the last
    part is the richest)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.recipient
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    message["Subject"] = mail.subject
    message["Message-ID"] = mail.message_id
    message["Date"] = format_datetime(datetime.fromtimestamp(created_ms / 1000, UTC))
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies back to us
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message

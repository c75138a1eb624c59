"""The URLs a chat line's attachment carries, per receiver, usable as `<img src>` or
`<a href>` as they are (the widget resolves them against the chat server's origin).

Staff read through their session cookie, so theirs are plain paths. A visitor's carry a
signature over (conversation id, attachment id) made with a key of its own purpose: no header
or cookie is needed (an `<img>` on another site's page sends none), and a URL shared with
someone else still reads only this one file, never the visitor's others. Over the conversation,
not the visitor: a chat moves to its visitor's verified id when they log in (identity.py), and
the URLs already in their widget must keep opening; it is only ever sent to the chat's visitor.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from chatserver.tokens import Signer

PATH = "/api/attachments/"


def staff_fields(attachment: Mapping[str, Any]) -> dict[str, Any]:
    """The attachment's fields plus the URLs a staff member's browser reads them at."""
    base = PATH + str(attachment["id"])
    fields = {**attachment, "url": base}
    if "width" in attachment:
        fields["thumbnail_url"] = base + "/thumbnail"
    return fields


class Links:
    """Signs and checks visitors' attachment URLs."""

    def __init__(self, signer: Signer) -> None:
        self._signer = signer

    def signature(self, conversation_id: str, attachment_id: str) -> str:
        return self._signer.sign(f"{conversation_id}/{attachment_id}").rpartition(".")[2]

    def visitor_fields(self, attachment: Mapping[str, Any],
                       conversation_id: str) -> dict[str, Any]:
        """The attachment's fields plus URLs for the visitor of its conversation."""
        sig = self.signature(conversation_id, str(attachment["id"]))
        base = PATH + str(attachment["id"])
        fields = {**attachment, "url": f"{base}?sig={sig}"}
        if "width" in attachment:
            fields["thumbnail_url"] = f"{base}/thumbnail?sig={sig}"
        return fields

    def may_read(self, conversation_id: str, attachment_id: str, sig: str) -> bool:
        """Whether `sig` was made for this attachment of this conversation (constant time,
        as bytes)."""
        wanted = self.signature(conversation_id, attachment_id)
        return hmac.compare_digest(wanted.encode(), sig.encode("utf-8", "replace"))

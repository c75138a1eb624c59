"""The bus's own RESP reader (chatserver/cluster/subscription.py): replies cut out of the byte
stream whatever chunks it comes in, and the publications among them."""

from __future__ import annotations

from chatserver.cluster.subscription import command, replies

CONFIRMED = b"*3\r\n$9\r\nsubscribe\r\n$8\r\nchat:bus\r\n:1\r\n"


def publication(data: bytes) -> bytes:
    return b"*3\r\n$7\r\nmessage\r\n$8\r\nchat:bus\r\n$%d\r\n%s\r\n" % (len(data), data)


def test_a_command_is_an_array_of_bulk_strings() -> None:
    assert command("SUBSCRIBE", "chat:bus") == b"*2\r\n$9\r\nSUBSCRIBE\r\n$8\r\nchat:bus\r\n"
    assert command("AUTH", "pässword") == b"*2\r\n$4\r\nAUTH\r\n$9\r\np\xc3\xa4ssword\r\n"


def test_the_confirmation_then_publications_holding_any_bytes() -> None:
    tricky = b'abc1 {"f":"line one\\r\\n*3\\r\\n$7"}\r\n*2\r\n$4'  # RESP inside the payload
    stream = bytearray(CONFIRMED + publication(b"a") + publication(tricky) + b"+OK\r\n")
    found, used = replies(stream)
    assert used == len(stream)
    assert found == [[b"subscribe", b"chat:bus", b"1"], [b"message", b"chat:bus", b"a"],
                     [b"message", b"chat:bus", tricky], b"+OK"]


def test_a_reply_cut_anywhere_waits_for_the_rest() -> None:
    whole = publication("héllo wörld".encode()) + publication(b"")
    for cut in range(len(whole)):
        stream = bytearray(whole[:cut])
        found, used = replies(stream)
        del stream[:used]
        stream += whole[cut:]
        rest, _ = replies(stream)
        assert [r[2] for r in found + rest if isinstance(r, list)] == ["héllo wörld".encode(), b""]


def test_an_error_is_a_line() -> None:
    found, used = replies(bytearray(b"-NOAUTH Authentication required.\r\n"))
    assert found == [b"-NOAUTH Authentication required."] and used == 34

"""Traditional, Taiwan and Hong Kong Chinese -> simplified (mainland) Chinese, for matching only.

OpenCC (the reference converter; its C++ library through the official binding) does it, with
its dictionaries of characters *and* phrases, where a hand-written table of 758 characters did
before: on the xSID zh queries written in Taiwan standard it answers as well as on the
simplified ones (0.922 top-1, the table 0.892), because it also turns Taiwan words into the
mainland ones (設定 -> 设置, 新增 -> 添加, 軟體 -> 软件, 登入 -> 登录), at 3-6 µs a call
(docs/bot.md, "Traditional, Taiwan and Hong Kong Chinese"; ``bench/hanzi_bench.py``).

Two levels, because they serve different readers:

* :func:`simplified` (``t2s``: characters, chosen by context) is part of
  :func:`bot.normalize.normalize`, which staff search indexes with too: it never swaps a word
  for another, so a searched word is the word written.
* :func:`mainland` (``tw2sp``: Taiwan variants and vocabulary as well) is where Chinese text
  is matched against Chinese entries (:func:`bot.lexicon.standardize`).

Both sides of every comparison go through the same function, so a conversion that is wrong
for a word only has to be consistent. Staff search's index keeps :func:`simplified`'s output:
a change to it must rename ``FOLDING`` in ``chatserver/store/search_refold.py``, which makes
every database index its older lines again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

import opencc

__all__ = ["mainland", "simplified"]

# OpenCC writes 帳 as 帐, an older form; shops write 账 (账号, 账户, 结账), and so did the table
# before it: 帳號 must still meet 账号 in staff search, which reads only this level.
_SHOP_FORMS = str.maketrans({"帐": "账"})
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")


@cache
def _converter(config: str) -> Callable[[str], str]:
    """OpenCC's converter for *config*, its dictionaries loaded once, on first use (3-14 ms)."""
    convert: Callable[[str], str] = opencc.OpenCC(config).convert
    return convert


def simplified(text: str) -> str:
    """*text* with traditional characters written simplified (OpenCC ``t2s``)."""
    return _converter("t2s")(text).translate(_SHOP_FORMS) if _HAN.search(text) else text


def mainland(text: str) -> str:
    """*text* in simplified characters and mainland words (OpenCC ``tw2sp``)."""
    return _converter("tw2sp")(text) if _HAN.search(text) else text

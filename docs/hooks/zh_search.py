"""mkdocs hook: Chinese words the search index keeps whole.

With jieba installed, mkdocs-material's search plugin segments Chinese text into words (joined by
zero-width spaces, which the ``separator`` in mkdocs.yml splits on), so a search for 权益 finds
会员权益说明. jieba's general dictionary splits some of this domain's terms in two (定向发券 becomes
定向 + 发券), and a search for the whole term then finds nothing. The terms below are added to jieba's
dictionary before any page is indexed.

Add only words that are not made of other searched words: a compound added here (会员权益) would hide
its parts (权益) from the search on the pages that use it.
"""

from __future__ import annotations

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError

WORDS = (
    "定向发券",  # targeted coupon issuance (jieba: 定向 + 发券)
    "私域",  # private domain (jieba: 私 + 域)
    "复购",  # repeat purchase (jieba: 复 + 购)
    "发券",  # issuing coupons
    "用券",  # using coupons
    "保级",  # tier retention
    "储值卡",  # stored-value card
    "满减",  # spend X, get Y off
    "凑单",  # add more to qualify
    "引入期",
    "成长期",
    "成熟期",
    "休眠期",
    "流失期",
)


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    try:
        import jieba
    except ImportError as missing:  # without it the index has no Chinese words: fail, don't degrade
        raise PluginError(
            "the docs' search needs jieba to segment Chinese: pip install -e '.[docs]'"
        ) from missing
    jieba.setLogLevel(30)  # its "Building prefix dict" messages are not build output
    for word in WORDS:
        jieba.add_word(word, freq=100_000)
    return config

"""Themes of free text (complaint descriptions, survey comments): which words are new this month.

Chinese is segmented with jieba; stop words, punctuation, numbers and single characters are dropped;
each word counts once per text. A word's weight is its share of this month's texts against its
share of the baseline texts (both smoothed by ½, so a word absent from the baseline is not infinite):
the words customers use more than before, with a few texts that use them as sample quotes.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

STOP_WORDS = frozenset("""
的 了 是 在 我 你 他 她 它 我们 你们 他们 这 那 这个 那个 就 都 也 还 又 和 与 及 或 但 但是 而 而且 因为 所以
如果 虽然 然后 一个 一下 一些 没有 不 没 很 太 非常 比较 有点 有些 已经 还是 可以 能 会 要 想 让 把 被 给 对 从
到 向 为 为了 以 等 等等 之 其 此 其他 什么 怎么 怎么样 为什么 吗 呢 吧 啊 呀 哦 嗯 了解 觉得 感觉 希望 建议
问题 情况 时候 今天 昨天 现在 一直 每次 再 才 只 只是 就是 还有 以及 并且 并 却 得 地 着 过 个 次 多 少
您 贵 公司 服务 客户
""".split())  # noqa: SIM905 (a word list reads best as text)
_KEEP = re.compile(r"^[\u4e00-\u9fffA-Za-z][\u4e00-\u9fffA-Za-z0-9]+$")  # two characters or more, no punctuation
QUOTE_LENGTH = 60


def tokens(text: str) -> set[str]:
    """The words of one text worth counting (each once)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return {w for w in jieba.lcut(text or "") if _KEEP.match(w) and w not in STOP_WORDS}


@dataclass(frozen=True)
class Theme:
    word: str
    count: int  # texts of this month using it
    share_pct: float
    baseline_share_pct: float
    weight: float  # smoothed share this month / smoothed share in the baseline
    quotes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def new(self) -> bool:
        return self.baseline_share_pct == 0


def themes(current: Iterable[str], baseline: Iterable[str], *, top: int = 8, min_count: int = 2,
           quotes: int = 2) -> list[Theme]:
    """The `top` words of `current` texts weighted against `baseline` texts (at least `min_count`
    texts this month), heaviest first, each with up to `quotes` sample texts."""
    texts = [t for t in current if t and t.strip()]
    before = [t for t in baseline if t and t.strip()]
    words = [tokens(t) for t in texts]
    now = Counter(w for ws in words for w in ws)
    then = Counter(w for t in before for w in tokens(t))
    n, m = max(len(texts), 1), max(len(before), 1)
    out = []
    for word, count in now.items():
        if count < min_count:
            continue
        weight = ((count + 0.5) / (n + 1)) / ((then[word] + 0.5) / (m + 1))
        samples = tuple(_quote(t) for t, ws in zip(texts, words) if word in ws)[:quotes]
        out.append(Theme(word, count, 100 * count / n, 100 * then[word] / m if before else 0.0, weight, samples))
    out.sort(key=lambda th: (-th.weight, -th.count, th.word))
    return out[:top]


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_LENGTH else text[: QUOTE_LENGTH - 1] + "…"

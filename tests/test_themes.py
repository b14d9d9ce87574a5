"""Themes of free text on a small fixed set: segmentation, stop words, weighting against the baseline."""

from __future__ import annotations

import pytest

from sqms.themes import themes, tokens

BASELINE = [
    "客服态度很好，问题解决了",
    "维修师傅态度好，很专业",
    "发票开错了，重新开了一次",
    "客服态度一般，但是问题解决了",
    "报价比较清楚",
    "维修及时，态度不错",
]
CURRENT = [
    "电话一直占线，等了很久没人接听",
    "电话占线，打了三次才接通",
    "在线客服回复太慢，等待时间太长",
    "等待时间太长了，电话占线",
    "维修师傅态度好",
    "发票开错了",
]


def test_tokens_drop_stop_words_punctuation_and_single_characters():
    words = tokens("电话一直占线，等了很久没人接听！")
    assert "占线" in words and "电话" in words
    assert not words & {"一直", "了", "，", "！", "等"}


def test_new_words_weigh_more_than_old_ones():
    found = themes(CURRENT, BASELINE, top=5)
    assert [t.word for t in found[:2]] == ["占线", "电话"]  # in 3 of 6 texts now, never before
    top = found[0]
    assert (top.count, top.share_pct, top.baseline_share_pct, top.new) == (3, 50.0, 0.0, True)
    assert top.weight == pytest.approx((3.5 / 7) / (0.5 / 7))  # = 7
    assert top.quotes == ("电话一直占线，等了很久没人接听", "电话占线，打了三次才接通")
    assert "态度" not in [t.word for t in found]  # said as often before: not a theme of this month
    assert all(t.count >= 2 for t in found)


def test_no_texts_no_themes():
    assert themes([], BASELINE) == [] and themes(["", "  "], []) == []

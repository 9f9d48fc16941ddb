"""The words that recur in the answers to one prompt, for the report's top-terms chart.

Words are runs of letters (æ, ø, å included; a hyphen or apostrophe inside a word keeps it
whole), lower-cased; Danish and English stop-words (`prompts/stopwords/`) and words shorter
than three letters are left out. Counting streams: only the vocabulary is kept in memory.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import cache
from importlib import resources

_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
MIN_LENGTH = 3
STOPWORD_LANGUAGES = ("da", "en")


@cache
def stopwords(languages: tuple[str, ...] = STOPWORD_LANGUAGES) -> frozenset[str]:
    words: set[str] = set()
    for lang in languages:
        path = resources.files("prompts") / "stopwords" / f"{lang}.txt"
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                word = line.strip().lower()
                if word and not word.startswith("#"):
                    words.add(word)
    return frozenset(words)


def words(text: str) -> list[str]:
    ignored = stopwords()
    return [
        word
        for word in _WORD.findall(text.lower())
        if len(word) >= MIN_LENGTH and word not in ignored
    ]


class TermCounter:
    """Counts each word once per input, so one long answer cannot dominate the chart."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self.inputs = 0

    def add(self, text: str) -> None:
        self.inputs += 1
        self._counts.update(set(words(text)))

    def add_all(self, texts: Iterable[str]) -> None:
        for text in texts:
            self.add(text)

    def top(self, n: int = 12, at_least: int = 2) -> list[tuple[str, int]]:
        """The `n` most frequent words found in at least `at_least` inputs, most frequent
        first, ties alphabetically so the chart is the same every time."""
        ranked = sorted(self._counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [(word, count) for word, count in ranked if count >= at_least][:n]

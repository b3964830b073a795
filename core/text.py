"""Text normalization shared by the NLU pipeline and the knowledge base.

Merchants paste text in traditional script, with pinyin after characters
(``現(xiàn)代``), full-width digits (``１９００``) and emoji. The tokenizer and the
classifiers are trained on simplified text, so every message is normalized first:

1. full-width ASCII and the ideographic space become half-width;
2. pinyin annotations in parentheses right after a Chinese character are removed
   (``(0003)`` or ``(API)`` stay: only real pinyin syllables are removed);
3. traditional script becomes simplified (OpenCC ``t2s``), and common Cantonese
   words become their Mandarin equivalents (``點算`` -> ``怎么办``, ``唔`` -> ``不``);
4. emoji, zero-width and control characters are dropped and whitespace is folded;
5. repetitions are collapsed (``转人工转人工转人工`` -> ``转人工``, the same sentence
   pasted many times -> once), and a text still longer than ``max_chars`` keeps its
   most informative sentences (questions and domain words) in their original order
   instead of only its beginning.

The normalized text keeps a map back to the original character offsets, so entity
annotations in the training data still point at the right characters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import opencc

_TONE_MARKS = str.maketrans(
    "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ",
    "aaaaeeeeiiiioooouuuuvvvvvnnnm",
)
_PINYIN_SYLLABLE = re.compile(
    r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
    r"(?:iang|iong|uang|ang|eng|ing|ong|ian|iao|uai|uan|van|ai|ei|ao|ou|an|en|er"
    r"|in|ia|ie|iu|ua|uo|ui|un|vn|ve|a|o|e|i|u|v|ng|n|m)[1-5]?"
)
# A parenthesised group right after a CJK character; its content is checked below.
_ANNOTATION = re.compile(r"(?<=[\u3400-\u9fff\uf900-\ufaff])\(([^()]{1,40})\)")
_WHITESPACE = re.compile(r"\s+")

# Separators allowed between the repeats of one unit, and sentence ends.
_SEPARATORS = " ,.!?;:~、。，！？；：…"
_SENTENCE_END = set(",.!?;~\n、。，！？；…")
# A unit of 1-30 characters repeated three or more times in a row.
_REPEATED_UNIT = re.compile(
    r"(.{1,30}?)(?:[" + re.escape(_SEPARATORS) + r"\n]*\1){2,}", re.S
)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_PUNCTUATION_ONLY = re.compile(r"[\W_]+")
# What makes a sentence carry the merchant's question.
_QUESTION_CUES = (
    "?", "吗", "嘛", "怎么", "怎样", "如何", "为什么", "为啥", "凭什么", "多久", "多长",
    "几天", "什么时候", "啥时候", "哪里", "在哪", "能不能", "可不可以", "是否", "请问",
    "咋", "啥", "多少", "有没有", "怎么办", "帮我", "麻烦",
)
_DOMAIN_WORDS = (
    "收款", "商户", "商家", "微信", "支付", "申诉", "冻结", "解冻", "限制", "风控", "客服",
    "人工", "95017", "费率", "手续费", "提现", "余额", "资金", "小程序", "网站", "异地",
    "审核", "驳回", "解封", "账户", "账号", "码", "钱", "银行", "支付宝", "抖音", "淘宝",
)
# Sentences longer than this are cut into pieces before selection.
_MAX_SENTENCE = 120

_converter = opencc.OpenCC("t2s")
# Same-length fixes for common words OpenCC leaves in a variant form.
_PHRASE_FIXES = {"随著": "随着", "帐户": "账户", "帐号": "账号", "帐单": "账单",
                 "到帐": "到账"}
# Same-length fixes for the pinyin-input slips merchants make most in our words; only
# where the slip is never a word of its own ("现制奶茶" is, so only "被现制").
_TYPO_FIXES = {
    "被东结": "被冻结", "被冬结": "被冻结", "被动结": "被冻结", "东结了": "冻结了",
    "冬结了": "冻结了", "解东": "解冻", "解动": "解冻",
    "被现制": "被限制", "被线制": "被限制", "限治": "限制", "现制收款": "限制收款",
    "微信之付": "微信支付", "微信知付": "微信支付", "之付宝": "支付宝",
    "申述": "申诉", "伸诉": "申诉", "商护号": "商户号", "提线": "提现", "收宽": "收款",
    "风空": "风控",
}
# Cantonese -> Mandarin, applied to the simplified text (longest phrases first). Single
# characters only where they are not used in Mandarin words.
_CANTONESE = {
    "点算好": "怎么办", "点算": "怎么办", "点样": "怎样", "点解": "为什么", "点先": "怎么才",
    "点做": "怎么做", "点计": "怎么算", "唔该": "麻烦", "唔系": "不是", "系咪": "是不是",
    "系唔系": "是不是", "边度": "哪里", "边个": "谁", "几多": "多少", "几耐": "多久", "几时": "什么时候",
    "乜嘢": "什么", "咩事": "什么事", "而家": "现在", "仲未": "还没", "仲有": "还有",
    "仲要": "还要", "仲系": "还是", "攞唔攞得返": "能不能拿回来", "攞返": "拿回",
    "收唔到": "收不到", "俾人": "被人", "冇": "没有", "嘅": "的", "咗": "了", "唔": "不",
    "啲": "些", "嗰": "那", "佢": "他", "喺": "在", "咩": "什么", "揾": "找", "睇": "看",
    "攞": "拿", "俾": "给", "哋": "们", "呃人": "骗人", "呃钱": "骗钱", "人呃": "人骗",
    "咁": "那", "即系": "就是", "㗎": "", "系呃": "是骗", "喺度": "在这里", "覆我": "回复我", "得返": "回来",
    # Not Cantonese: the Taiwan/HK spelling 甚麼, which OpenCC keeps as 甚么.
    "甚么": "什么",
}
_CANTONESE_PATTERN = re.compile(
    "|".join(re.escape(k) for k in sorted(_CANTONESE, key=len, reverse=True)))


def _is_pinyin(content: str) -> bool:
    syllables = content.strip().split()
    if not syllables:
        return False
    for syllable in syllables:
        if syllable != syllable.lower():
            return False
        plain = syllable.translate(_TONE_MARKS)
        if not _PINYIN_SYLLABLE.fullmatch(plain):
            return False
    return True


def _to_half_width(char: str) -> str:
    code = ord(char)
    if 0xFF01 <= code <= 0xFF5E:
        return chr(code - 0xFEE0)
    if code == 0x3000:
        return " "
    return char


def _is_dropped(char: str) -> bool:
    """Emoji, pictographs, variation selectors, zero-width and control characters."""
    if char in "\n\t\r":
        return False
    category = unicodedata.category(char)
    if category in ("Cc", "Cf", "Cs", "Co", "Cn"):
        return True
    if category == "So" or (category == "Sk" and ord(char) >= 0x1F000):
        return True
    return 0xFE00 <= ord(char) <= 0xFE0F


@dataclass(frozen=True)
class NormalizedText:
    text: str
    # source[i] is the index in the original text of normalized character i.
    source: tuple[int, ...]

    def original_span(self, start: int, end: int, original_length: int) -> tuple[int, int]:
        """Maps a [start, end) span of the normalized text back to the original text."""
        if start >= len(self.source):
            return original_length, original_length
        original_start = self.source[start]
        original_end = self.source[end - 1] + 1 if end > start else original_start
        return original_start, original_end

    def normalized_span(self, start: int, end: int) -> tuple[int, int]:
        """Maps a [start, end) span of the original text into the normalized text."""
        inside = [i for i, source in enumerate(self.source) if start <= source < end]
        if not inside:
            position = sum(1 for source in self.source if source < start)
            return position, position
        return inside[0], inside[-1] + 1


def _mandarin(text: str, source: list[int]) -> tuple[str, list[int]]:
    """Replaces Cantonese words; each new character maps to the replaced word's start."""
    if not _CANTONESE_PATTERN.search(text):
        return text, source
    out: list[str] = []
    out_source: list[int] = []
    position = 0
    for match in _CANTONESE_PATTERN.finditer(text):
        out.extend(text[position:match.start()])
        out_source.extend(source[position:match.start()])
        replacement = _CANTONESE[match.group(0)]
        out.extend(replacement)
        out_source.extend([source[match.start()]] * len(replacement))
        position = match.end()
    out.extend(text[position:])
    out_source.extend(source[position:])
    return "".join(out), out_source


def _unit_collapses(unit: str) -> bool:
    """Units with digits never collapse: merchant ids and phone numbers repeat digits,
    also spelled out ("尾号零零零四")."""
    if any(c.isdigit() or c in "零〇幺一二三四五六七八九" for c in unit):
        return False
    return bool(_CJK.search(unit) or unit.isalpha() or _PUNCTUATION_ONLY.fullmatch(unit))


def _collapse_runs(text: str, keep: list[bool]) -> None:
    """A unit repeated 3+ times in a row keeps one copy (two for a single character)."""
    position = 0
    while True:
        match = _REPEATED_UNIT.search(text, position)
        if match is None:
            return
        unit = match.group(1)
        if not _unit_collapses(unit):
            position = match.start() + 1
            continue
        copies = 2 if len(unit) == 1 and _CJK.match(unit) else 1
        kept_end = match.start()
        for _ in range(copies):
            kept_end = text.index(unit, kept_end) + len(unit)
        for i in range(kept_end, match.end()):
            keep[i] = False
        position = match.end()


def sentence_spans(text: str, max_len: int = _MAX_SENTENCE) -> list[tuple[int, int]]:
    """[start, end) spans of the sentences of ``text``, each with its end punctuation."""
    spans: list[tuple[int, int]] = []
    start = 0
    for i, char in enumerate(text):
        if char in _SENTENCE_END and (i + 1 == len(text) or text[i + 1] not in _SENTENCE_END):
            spans.append((start, i + 1))
            start = i + 1
    if start < len(text):
        spans.append((start, len(text)))
    pieces: list[tuple[int, int]] = []
    for begin, end in spans:
        while end - begin > max_len:
            pieces.append((begin, begin + max_len))
            begin += max_len
        pieces.append((begin, end))
    return [(b, e) for b, e in pieces if text[b:e].strip(_SEPARATORS + "\n")]


def _core(sentence: str) -> str:
    return "".join(c for c in sentence if c not in _SEPARATORS and not c.isspace())


def _drop_repeated_sentences(text: str, keep: list[bool]) -> None:
    """A sentence seen before (ignoring punctuation and spaces) is dropped."""
    seen: set[str] = set()
    for start, end in sentence_spans(text):
        core = _core(text[start:end])
        if not core:
            continue
        if core in seen:
            for i in range(start, end):
                keep[i] = False
        seen.add(core)


def informativeness(sentence: str) -> float:
    """How likely a sentence carries the question: cues, domain words, varied characters."""
    core = _core(sentence)
    if not core:
        return 0.0
    cues = sum(cue in sentence for cue in _QUESTION_CUES)
    domain = sum(word in sentence for word in _DOMAIN_WORDS)
    variety = len(set(core)) / len(core)
    score = 2.0 * min(cues, 3) + min(domain, 5) + (1.0 if variety > 0.3 else -3.0)
    return score


def informative_selection(text: str, budget: int) -> list[tuple[int, int]]:
    """The spans of ``text`` to keep so that at most ``budget`` characters remain.

    Sentences are ranked by :func:`informativeness` (ties: later sentences first, the
    question usually closes a message) and kept in their original order.
    """
    if len(text) <= budget:
        return [(0, len(text))]
    spans = sentence_spans(text)
    ranked = sorted(range(len(spans)),
                    key=lambda i: (informativeness(text[slice(*spans[i])]), i), reverse=True)
    chosen: list[int] = []
    used = 0
    for index in ranked:
        start, end = spans[index]
        if used + (end - start) <= budget:
            chosen.append(index)
            used += end - start
        elif not chosen:
            chosen.append(index)
            used = budget
            spans[index] = (start, start + budget)
    return [spans[i] for i in sorted(chosen)]


def _apply(normalized: NormalizedText, keep: list[bool]) -> NormalizedText:
    chars = [c for c, k in zip(normalized.text, keep, strict=True) if k]
    source = [s for s, k in zip(normalized.source, keep, strict=True) if k]
    # A dropped repeat can leave two spaces side by side or one at an end.
    out_chars: list[str] = []
    out_source: list[int] = []
    for char, origin in zip(chars, source, strict=True):
        if char == " " and (not out_chars or out_chars[-1] == " "):
            continue
        out_chars.append(char)
        out_source.append(origin)
    while out_chars and out_chars[-1] == " ":
        out_chars.pop()
        out_source.pop()
    return NormalizedText("".join(out_chars), tuple(out_source))


def condense(normalized: NormalizedText, max_chars: int) -> NormalizedText:
    """Collapses repetitions, then keeps the most informative sentences within max_chars."""
    text = normalized.text
    keep = [True] * len(text)
    _collapse_runs(text, keep)
    collapsed = _apply(normalized, keep)
    text = collapsed.text
    keep = [True] * len(text)
    _drop_repeated_sentences(text, keep)
    deduplicated = _apply(collapsed, keep)
    if len(deduplicated.text) <= max_chars:
        return deduplicated
    keep = [False] * len(deduplicated.text)
    for start, end in informative_selection(deduplicated.text, max_chars):
        for i in range(start, end):
            keep[i] = True
    return _apply(deduplicated, keep)


def to_simplified(text: str) -> str:
    """Traditional script to simplified, one character for one (offsets stay valid)."""
    converted = _converter.convert(text)
    if len(converted) == len(text):
        return converted
    return "".join(c2 if len(c2 := _converter.convert(c)) == 1 else c for c in text)


def normalize(text: str) -> NormalizedText:
    """Normalizes ``text`` and keeps the map to the original offsets."""
    if not text:
        return NormalizedText("", ())

    chars = [_to_half_width(c) for c in text]
    keep = [True] * len(chars)
    half_width = "".join(chars)

    for match in _ANNOTATION.finditer(half_width):
        if _is_pinyin(match.group(1)):
            for i in range(match.start(), match.end()):
                keep[i] = False

    for i, char in enumerate(chars):
        if keep[i] and _is_dropped(char):
            keep[i] = False

    kept_chars = [c for c, k in zip(chars, keep, strict=True) if k]
    kept_source = [i for i, k in enumerate(keep) if k]

    # OpenCC t2s maps one character to one character for the script itself; when a
    # phrase conversion changes the length we fall back to the per-character result.
    kept_text = "".join(kept_chars)
    simplified = _converter.convert(kept_text)
    if len(simplified) != len(kept_text):
        per_char = (_converter.convert(c) for c in kept_chars)
        simplified = "".join(converted if len(converted) == 1 else original
                             for original, converted in zip(kept_chars, per_char, strict=True))

    for variant, standard in (*_PHRASE_FIXES.items(), *_TYPO_FIXES.items()):
        simplified = simplified.replace(variant, standard)
    simplified, kept_source = _mandarin(simplified, kept_source)

    # Fold whitespace runs into one space and strip both ends.
    out_chars: list[str] = []
    out_source: list[int] = []
    for char, source in zip(simplified, kept_source, strict=True):
        if char.isspace():
            if not out_chars or out_chars[-1] == " ":
                continue
            char = " "
        out_chars.append(char)
        out_source.append(source)
    while out_chars and out_chars[-1] == " ":
        out_chars.pop()
        out_source.pop()

    return NormalizedText("".join(out_chars), tuple(out_source))

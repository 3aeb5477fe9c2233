"""Using a trained translator: input checks, names carried across, beam search, alignment, next-word choices.

Names. Tatoeba writes most names in Chinese characters (汤姆 for Tom), so an unseen Latin name such as the
lecture's "我是mika。" has no token the model knows how to translate. We substitute: each run of Latin
letters in the input is replaced by a Chinese name the model knows well, the sentence is translated, and
the English of that stand-in is swapped back for the original name. When a stand-in does not come out
in the English, the next one is tried; if none does, the raw input is translated and the result says so.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass, field

import torch

from seqcore.data.tatoeba import normalize_chinese
from seqcore.data.translation_vocab import BOS, EOS, UNK, SourceVocab, TargetVocab
from seqcore.errors import InputError
from seqcore.generate import SearchResult, beam_search

MAX_CHARS = 120                 # longest input accepted (Tatoeba sentences: 11 characters on average)
MAX_BEAM = 8
# Stand-ins, each frequent in the training split; the English must be one piece of the output.
STAND_INS = [("汤姆", "Tom"), ("玛丽", "Mary"), ("约翰", "John"), ("杰克", "Jack")]
_LATIN = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def check_text(text: str) -> str:
    """The text to translate, stripped; InputError for empty, too long or non-Chinese input."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("type a Chinese sentence to translate (the text is empty)")
    text = text.strip()
    if len(text) > MAX_CHARS:
        raise InputError(f"the text has {len(text):,} characters; this model translates one sentence of at most "
                         f"{MAX_CHARS} characters (it was trained on everyday sentences of about 11)")
    if "\x00" in text:
        raise InputError("the text contains a NUL character; remove it")
    if not _HAN.search(text):
        if not any(unicodedata.category(c)[0] in "LN" for c in text):
            raise InputError("the text has no letters or Chinese characters (only symbols or emoji): type a "
                             "Chinese sentence")
        raise InputError("this model translates Chinese to English, and the text has no Chinese characters: "
                         "type a Chinese sentence such as 我是mika。")
    return text


@dataclass
class Translation:
    source: str
    translation: str
    tokens: list[str]               # output pieces, <eos> excluded
    score: float                    # summed log-probability of the tokens
    normalized_score: float
    source_tokens: list[str]        # what the model read (after name substitution)
    names: dict = field(default_factory=dict)   # {"method", "substitutions": [[name, stand-in], ...]}
    seconds: float = 0.0
    search: SearchResult | None = None

    def to_dict(self) -> dict:
        return {"source": self.source, "translation": self.translation, "tokens": self.tokens,
                "score": round(self.score, 4), "normalized_score": round(self.normalized_score, 4),
                "source_tokens": self.source_tokens, "names": self.names, "seconds": round(self.seconds, 4)}


class Translator:
    """A seq2seq model with its vocabularies and decoding settings; read-only once loaded."""

    def __init__(self, model, src_vocab: SourceVocab, tgt_vocab: TargetVocab, *, alpha: float = 0.6,
                 name: str = ""):
        self.model, self.src_vocab, self.tgt_vocab, self.alpha, self.name = model, src_vocab, tgt_vocab, alpha, name

    @property
    def arch(self) -> str:
        return self.model.config.arch

    def source_ids(self, normalized: str) -> torch.Tensor:
        """(1, S) source ids of normalised Chinese text (one <unk> when nothing is left)."""
        ids = self.src_vocab.encode(normalized) or [UNK]
        return torch.tensor([ids[: self.model.config.max_len]])

    def _search(self, normalized: str, beam: int, prefix: list[int], record: bool) -> SearchResult:
        max_len = min(self.model.config.max_len - 1, 2 * len(normalized) + 10 + len(prefix))
        with torch.inference_mode():
            return beam_search(self.model, self.source_ids(normalized), bos=BOS, eos=EOS, beam=beam, max_len=max_len,
                               alpha=self.alpha, prefix=prefix, record=record)

    def _decode(self, ids: list[int]) -> tuple[str, list[str]]:
        ids = [i for i in ids if i != EOS]
        return self.tgt_vocab.decode(ids), [self.tgt_vocab.piece(i) for i in ids]

    def translate(self, text: str, *, beam: int = 4, prefix: str = "", record: bool = False) -> Translation:
        """Translate one Chinese sentence. prefix: English the output must start with (prefix forcing)."""
        text = check_text(text)
        if not 1 <= int(beam) <= MAX_BEAM:
            raise InputError(f"beam width must be between 1 and {MAX_BEAM}")
        start = time.perf_counter()
        normalized = normalize_chinese(text)
        names = _LATIN.findall(normalized)
        prefix_ids = self.tgt_vocab.encode(prefix.strip()) if prefix.strip() else []
        if len(prefix_ids) > self.model.config.max_len - 2:  # each forced token is a decoding step: refuse, not hang
            raise InputError(f"the prefix is {len(prefix_ids):,} tokens long; a translation here has at most "
                             f"{self.model.config.max_len - 2}: shorten the prefix to a few words")
        result = None
        if names:
            result = self._with_stand_ins(text, normalized, names, int(beam), prefix_ids, record)
        if result is None:
            search = self._search(normalized, int(beam), prefix_ids, record)
            out, pieces = self._decode(search.best.tokens)
            method = "none needed" if not names else "none worked: raw input translated"
            result = Translation(text, out, pieces, search.best.score, search.best.normalized(self.alpha),
                                 self.src_vocab.tokens(normalized), {"method": method, "substitutions": []},
                                 search=search)
        result.seconds = time.perf_counter() - start
        return result

    def _with_stand_ins(self, text, normalized, names, beam, prefix_ids, record) -> Translation | None:
        distinct = list(dict.fromkeys(names))
        usable = [(zh, en) for zh, en in STAND_INS if zh not in normalized]
        if len(distinct) > len(usable):
            return None
        subs = dict(zip(distinct, usable, strict=False))
        replaced = _LATIN.sub(lambda m: subs[m.group(0)][0], normalized)
        search = self._search(replaced, beam, prefix_ids, record)
        out, pieces = self._decode(search.best.tokens)
        for name, (_, en) in subs.items():
            if not re.search(rf"\b{en}\b", out):
                return None
            out = re.sub(rf"\b{en}\b", name, out)
            pieces = [p.replace(en, name) for p in pieces]
        return Translation(text, out, pieces, search.best.score, search.best.normalized(self.alpha),
                           self.src_vocab.tokens(replaced),
                           {"method": "stand-in names", "substitutions": [[n, zh] for n, (zh, _) in subs.items()]},
                           search=search)

    def forced(self, source_tokens_text: str, output_ids: list[int]) -> dict:
        """One teacher-forced pass over a finished translation: next-token probabilities and attention.

        Returns {"top": per output step [(piece, prob), ...] (top 5), "attention": (T, L, H, S) tensor}.
        """
        src = self.source_ids(source_tokens_text)
        tgt_in = torch.tensor([[BOS, *output_ids]])
        with torch.inference_mode():
            logits, att = self.model(src, tgt_in, return_attention=True)
        probs = torch.softmax(logits[0].float(), -1)  # (T+1, V)
        top_p, top_i = probs.topk(5, dim=-1)
        top = [[(self.tgt_vocab.piece(i), float(p)) for p, i in zip(ps, is_, strict=True)]
               for ps, is_ in zip(top_p.tolist(), top_i.tolist(), strict=True)]
        return {"top": top, "attention": att[0].float()}

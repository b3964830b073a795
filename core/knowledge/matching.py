"""The in-memory index of published entries and how a message is scored against it.

Each entry is represented by its questions (standard + similar). A message gets two
signals per entry, each the best over the entry's questions:

- dense: cosine similarity of e5 vectors, rescaled so that ``DENSE_FLOOR`` (what
  unrelated Chinese sentences reach with e5-small) is 0 and 1.0 is 1;
- lexical: BM25 over ``core.knowledge.tokens`` divided by the score an ideal match would
  get (every query token present once in a question of average length), so it reads as
  "how much of the message this question covers", comparable across messages. Tokens
  the index has never seen count in that ideal: unknown words lower the score.

- classifier: a logistic regression over the question vectors (one class per entry,
  trained when the index is built, ~1 s), the entry's probability. It generalizes from
  an entry's similar questions better than the nearest question alone.

The fused score is ``CLASSIFIER_WEIGHT * classifier + (1 - CLASSIFIER_WEIGHT) *
(DENSE_WEIGHT * dense + (1 - DENSE_WEIGHT) * lexical)`` (weights measured by
``bench/knowledge_tune.py``). BM25 is written here (30 lines) rather than taken from
rank_bm25 because the normalization needs its inner terms. Thresholds live in
``core.knowledge.decision``."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.knowledge.entries import Entry
from core.knowledge.tokens import tokens

DENSE_FLOOR = 0.75
DENSE_WEIGHT = 0.4
CLASSIFIER_WEIGHT = 0.5
CLASSIFIER_C = 50.0


@dataclass(frozen=True)
class Candidate:
    entry_id: str
    score: float
    dense: float
    lexical: float
    question: str  # the entry's question that matched best
    classifier: float = 0.0


class Bm25:
    """BM25 with each (token, question) term weight computed once, when the index is
    built: a query's scores are then one sparse row sum (~0.1 ms over 1,800 questions,
    instead of a Python loop over every posting)."""

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75):
        from scipy.sparse import csr_matrix

        self.k1, self.b = k1, b
        self.count = len(documents)
        lengths = np.array([len(d) for d in documents], dtype=np.float32)
        self.average = float(lengths.mean()) if self.count else 1.0
        self.rows: dict[str, int] = {}
        self.frequencies: list[int] = []
        data, row_of, column_of = [], [], []
        for index, document in enumerate(documents):
            norm = k1 * (1 - b + b * lengths[index] / self.average)
            for token, frequency in Counter(document).items():
                row = self.rows.setdefault(token, len(self.rows))
                if row == len(self.frequencies):
                    self.frequencies.append(0)
                self.frequencies[row] += 1
                data.append(frequency * (k1 + 1) / (frequency + norm))
                row_of.append(row)
                column_of.append(index)
        self.weights = csr_matrix((np.array(data, dtype=np.float32), (row_of, column_of)),
                                  shape=(len(self.rows), self.count))
        self.unknown_idf = self._idf(0)

    def _idf(self, document_frequency: int) -> float:
        return math.log(1 + (self.count - document_frequency + 0.5) / (document_frequency + 0.5))

    def idf(self, token: str) -> float:
        row = self.rows.get(token)
        return self._idf(self.frequencies[row] if row is not None else 0)

    def scores(self, query: Sequence[str]) -> np.ndarray:
        known = [self.rows[token] for token in set(query) if token in self.rows]
        if not known:
            return np.zeros(self.count, dtype=np.float32)
        idf = np.array([self._idf(self.frequencies[row]) for row in known], dtype=np.float32)
        return np.asarray(idf @ self.weights[known], dtype=np.float32).ravel()

    def ideal(self, query: Sequence[str]) -> float:
        """The score of a document of average length holding each query token once."""
        return sum(self.idf(token) for token in set(query))


class KnowledgeIndex:
    """Published entries, their question vectors and the BM25 index over their tokens."""

    def __init__(self, entries: Sequence[Entry], vectors: np.ndarray | None,
                 version: int = 0, source: str = "database") -> None:
        self.entries = {entry.id: entry for entry in entries}
        self.version = version
        self.source = source
        self.questions: list[str] = []
        self.owner: list[int] = []
        self.order = [entry.id for entry in entries]
        for position, entry in enumerate(entries):
            for question in entry.questions:
                self.questions.append(question)
                self.owner.append(position)
        self.owner_array = np.array(self.owner, dtype=np.int64)
        self.bm25 = Bm25([tokens(q) for q in self.questions])
        if vectors is not None and len(vectors) != len(self.questions):
            raise ValueError("one vector per question is needed")
        self.vectors = vectors
        self._coef: np.ndarray | None = None
        self._intercept: np.ndarray | None = None
        if self.has_vectors and len(self.order) >= 2:
            self._fit_classifier()

    def _fit_classifier(self) -> None:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=CLASSIFIER_C, max_iter=3000, random_state=0)
        model.fit(self.vectors, self.owner_array)
        coef = np.zeros((len(self.order), self.vectors.shape[1]), dtype=np.float32)
        intercept = np.full(len(self.order), -1e9, dtype=np.float32)
        coef[model.classes_] = model.coef_
        intercept[model.classes_] = model.intercept_
        self._coef, self._intercept = coef, intercept

    def classifier_probabilities(self, vector: np.ndarray) -> np.ndarray | None:
        if self._coef is None or self._intercept is None:
            return None
        logits = self._coef @ vector.astype(np.float32) + self._intercept
        logits -= logits.max()
        exp = np.exp(logits)
        return exp / exp.sum()

    @property
    def has_vectors(self) -> bool:
        return self.vectors is not None and len(self.questions) > 0

    def __len__(self) -> int:
        return len(self.entries)

    def search(self, text: str, vector: np.ndarray | None = None, limit: int = 5,
               normalized: bool = False) -> list[Candidate]:
        if not self.questions:
            return []
        query = tokens(text, normalized=normalized)
        ideal = self.bm25.ideal(query)
        lexical_raw = self.bm25.scores(query) / ideal if ideal > 0 else np.zeros(len(self.questions))
        lexical_raw = np.clip(lexical_raw, 0.0, 1.0)
        if vector is not None and self.has_vectors:
            cosine = self.vectors @ vector.astype(np.float32)
            dense_raw = np.clip((cosine - DENSE_FLOOR) / (1 - DENSE_FLOOR), 0.0, 1.0)
            fused_raw = DENSE_WEIGHT * dense_raw + (1 - DENSE_WEIGHT) * lexical_raw
        else:
            dense_raw = np.zeros(len(self.questions), dtype=np.float32)
            fused_raw = lexical_raw
        fused = np.full(len(self.order), -np.inf, dtype=np.float32)
        np.maximum.at(fused, self.owner_array, fused_raw.astype(np.float32))
        probabilities = self.classifier_probabilities(vector) if vector is not None else None
        if probabilities is not None:
            fused = CLASSIFIER_WEIGHT * probabilities + (1 - CLASSIFIER_WEIGHT) * fused
        result = []
        for position in np.argsort(-fused)[:limit]:
            rows = np.flatnonzero(self.owner_array == position)
            best = rows[int(np.argmax(fused_raw[rows]))]
            result.append(Candidate(entry_id=self.order[position],
                                    score=round(float(fused[position]), 4),
                                    dense=round(float(dense_raw[best]), 4),
                                    lexical=round(float(lexical_raw[best]), 4),
                                    question=self.questions[best],
                                    classifier=round(float(probabilities[position]), 4)
                                    if probabilities is not None else 0.0))
        return result

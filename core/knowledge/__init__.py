"""The knowledge base: standard questions with similar questions and the team's answers,
matched by meaning (e5 vectors fused with BM25 over jieba tokens).

- ``entries``: the entry format, validation and the reviewed YAML under ``data/knowledge``;
- ``matching``: the in-memory index and its scores (pure, no database);
- ``decision``: what the assistant does with a message given its intent and the matches;
- ``store``: entries, revisions, publishing and rollback in the merchant database;
- ``vectors``: question vectors, computed once per text;
- ``live``: the process's current index, reloaded when the database's version changes.
"""

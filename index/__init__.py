"""Sanad's engine: articles -> chunks -> embeddings -> FAISS index -> cited passages.

The bot and the command line use it through `Searcher` (search.py) and `build_index` (build.py).
"""

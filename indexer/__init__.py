"""Indexer: load council papers, clean them, chunk them with citations, embed them, write the index."""

"""Evaluation against gold questions: quote-based relevance, retrieval metrics (ranx), answers, latency."""

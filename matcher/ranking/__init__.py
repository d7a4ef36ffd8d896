"""Ranking: scores to top-k lists, for one query or every city at once.

rank holds the rules (eligibility, reciprocity, the per-country cap, the mutual top-k);
percentiles and compatibility turn scores into what users read; batch ranks many cities with the
compiled kernels (fused, fusedrank, fusedmutual; fused_dense is rendered by kernelgen from the
signal table).
"""

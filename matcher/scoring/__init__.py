"""Scoring: how much a query city and a candidate belong together, from the one signal table.

signaltable declares every signal once (kinds: its per-cell formula; walks: its graph path);
signals is the reference that reads the table by name; cells, prepared, scorer, refine and
reverse are the fast paths (a block, one query, stage two's listed pairs, the reverse
direction); final_scores puts them together; csr, rowsum and rowproduct are their sparse helpers.
"""

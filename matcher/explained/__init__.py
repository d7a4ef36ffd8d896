"""Explained matches: the three dimensions, the facts behind a match, and a pair's breakdown.

dimensions measures each dimension on its own data; facts states what two cities share or
complete; evidence and explain turn them into each row's reasons; explanation and breakdown are
`twin explain`'s whole account of one pair.
"""

"""The bilateral programme: which cities of one country should twin with which of another.

pairing builds the programme from the model's scores; matching holds the assignment algorithms
(pure numpy/scipy); report renders it as one self-contained HTML page.
"""

"""Places: what a user types, resolved to a city of the model or anywhere in the gazetteer.

lookup (with querytext, country_names, regions, romanize) resolves names, ids and countries;
gazetteer knows every GeoNames place; outside scores a place outside the index as one more city.
"""

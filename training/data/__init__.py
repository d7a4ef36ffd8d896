"""The data stage: partnerships ingested and resolved to GeoNames, city features built.

ingest and wikidata read the sources; names, countries and resolve map each end to a GeoNames
place (gazetteer); sections, featurespec, features, indicators and opendata build the city
table; build runs the stage and writes data/processed/.
"""

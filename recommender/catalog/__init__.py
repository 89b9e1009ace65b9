"""The product catalog: the SQLite file, its keyword index, import formats and the importer."""

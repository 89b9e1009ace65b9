"""The product catalog: the SQLite file (products, writer), its keyword index, product formats, the importer
and the one reader of shopper-history files."""

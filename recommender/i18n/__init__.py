"""Languages: which one a message is written in, and the assistant's texts in each.

``detect`` (the language of a message, or None when too short or mixed to tell) and ``messages``
(translations of the assistant's English texts, one gettext PO file per language under ``locale/``).
"""

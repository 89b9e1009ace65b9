"""The one limit on ids that the shopper store, the catalog import and the channels share.

Plain Python, nothing imported: the Rasa server checks senders against it without loading the store.
"""

MAX_ID_CHARS = 200  # shopper and product ids are opaque labels, never message text

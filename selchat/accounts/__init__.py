"""Accounts, a server password, operators and moderation (docs/accounts.rst).

``passwords`` (scrypt hashes, pure), ``worker`` (the hashing process) and
``hasher`` (its pipe in the loop's selector), ``authority`` (who may do what:
pure), ``commands`` (the new command lines), ``store`` (SQLite in the data
directory), ``driver`` (the effects carried out), ``admin`` (``selchat admin``).
"""

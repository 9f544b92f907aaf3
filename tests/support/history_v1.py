"""A history database as selchat wrote it at schema version 1, before topics
kept who set them and when: what `selchat.store.migrate` must bring up to date."""

#: A version 1 database, as selchat wrote it before topics kept their setter.
VERSION_1 = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE passes(first INTEGER PRIMARY KEY, last INTEGER NOT NULL, room TEXT NOT NULL,
                    time_ms INTEGER NOT NULL, lines TEXT NOT NULL);
CREATE INDEX passes_by_room ON passes(room, first);
CREATE TABLE topics(room TEXT PRIMARY KEY, topic TEXT NOT NULL);
CREATE TABLE sessions(hash TEXT PRIMARY KEY, name TEXT NOT NULL, rooms TEXT NOT NULL);
INSERT INTO meta VALUES ('version', '1'), ('epoch', 'old'), ('indexed', '0');
INSERT INTO passes VALUES (1, 1, '', 5, '<a> kept');
INSERT INTO topics VALUES ('#dev', 'old topic'), ('', 'lobby topic');
"""

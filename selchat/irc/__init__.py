"""The IRC port: IRC clients (irssi, WeeChat, HexChat...) in the same rooms.

One module per concern: `message` (lines to messages and back), `numerics`
(the reply codes), `caps` (IRCv3 capability negotiation), `render` (the
room's lines as IRC lines, once per pass per variant), `session` (one
client's registration and commands, pure; its lookups in `queries`, the
room as it sees it in `world`), `kind` (the loop's side, a
`selchat.connection.Kind`) and `port` (the listener and its startup line).
docs/irc.rst says what IRC clients get.
"""

"""The web port: HTTP and WebSocket for the browser client, and /metrics.

Pure modules only (no sockets, no clock): `http` answers requests and does
the WebSocket handshake, `websocket` turns frames into chat lines and frames
server lines, `metrics` renders the loop's counters, `page` holds the page.
`driver` drives them in the server loop: the HTTP and WebSocket connection
kinds (`selchat.connection.Kind`).
"""

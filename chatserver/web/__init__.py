"""The web edge: the app (`create_app`, the only module that knows every part), the shared
`Hub`, authentication, the visitor and agent sockets, pages and their JSON APIs (knowledge
base, learning, privacy, reports), the widget routes, security headers, templates and static.

The top of the house: it may import every other package, and nothing imports it except the
command line (`chatserver.cli`). From `store` it uses only `sqlite` and `kb_store`.
"""

"""Files in chats (issue 19): what a file is by its bytes (`sniff`), images made safe to show
(`images`), what a desk accepts (`policy`), and the links each receiver is given (`links`).

Pure: bytes in, bytes and plain data out. The HTTP endpoints and the storage live in
`chatserver.web.attachments_api` and the store.
"""

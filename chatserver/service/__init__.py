"""The conversation service: the shell around the pure conversation that stores, publishes
and routes. `facade.ConversationService` is the one object the edge talks to; behind it
`journal` (append = store, apply, publish), `visitor_side`, `agent_side`, `handoff`,
`recovery`, the `dispatcher` (offers, queue), the frames built from events (`event_frames`),
lines that carry a file (`attachment_lines`), learning from agents and the optional semantic
encoder (`embeddings`).

Imports: `core`, `store`, `cluster`, `attachments` (the links in file lines), the top-level
config, telemetry and tokens, `bot`, `knowledge_base`; never `web`, `reports` or `privacy`.
"""

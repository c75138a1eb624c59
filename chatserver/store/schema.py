"""The database schema as numbered migrations. Never edit a released one: append a new one.

Times are integer milliseconds since the epoch (UTC). `events` is append-only: the truth from
which every conversation row, transcript and metric is derived.
"""

MIGRATIONS: list[str] = [
    # 1: visitors, users and their sessions, conversations, the event log, offline messages
    """
    CREATE TABLE visitors (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        email TEXT NOT NULL DEFAULT '',
        language TEXT NOT NULL DEFAULT '',
        created_ms INTEGER NOT NULL,
        last_seen_ms INTEGER NOT NULL
    );
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        display_name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
        password_hash TEXT NOT NULL,
        skills TEXT NOT NULL DEFAULT '{}',
        capacity INTEGER NOT NULL DEFAULT 3 CHECK (capacity BETWEEN 1 AND 50),
        disabled INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL
    );
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        visitor_id TEXT NOT NULL REFERENCES visitors(id),
        state TEXT NOT NULL,
        agent_id INTEGER,
        last_seq INTEGER NOT NULL DEFAULT 0,
        language TEXT NOT NULL DEFAULT '',
        topic TEXT NOT NULL DEFAULT '',
        page_url TEXT NOT NULL DEFAULT '',
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        closed_ms INTEGER,
        resolved INTEGER
    );
    CREATE INDEX conversations_open ON conversations(state) WHERE state != 'closed';
    CREATE INDEX conversations_visitor ON conversations(visitor_id, created_ms);
    CREATE TABLE events (
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        author TEXT NOT NULL,
        payload TEXT NOT NULL,
        client_id TEXT,
        ts_ms INTEGER NOT NULL,
        PRIMARY KEY (conversation_id, seq)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX events_client ON events(conversation_id, client_id)
        WHERE client_id IS NOT NULL;
    CREATE INDEX events_time ON events(ts_ms);
    CREATE TABLE offline_messages (
        id INTEGER PRIMARY KEY,
        visitor_id TEXT NOT NULL,
        client_id TEXT NOT NULL,
        email TEXT NOT NULL,
        text TEXT NOT NULL,
        language TEXT NOT NULL DEFAULT '',
        page_url TEXT NOT NULL DEFAULT '',
        created_ms INTEGER NOT NULL,
        handled_by INTEGER REFERENCES users(id),
        handled_ms INTEGER,
        UNIQUE (visitor_id, client_id)
    );
    """,
    # 2: the knowledge base with every version kept, and small server-wide facts
    """
    CREATE TABLE kb_entries (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        language TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('draft', 'published')),
        skill TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        questions TEXT NOT NULL,
        answer TEXT NOT NULL,
        version INTEGER NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0,
        updated_ms INTEGER NOT NULL,
        updated_by INTEGER REFERENCES users(id)
    );
    CREATE INDEX kb_entries_language ON kb_entries(language, status) WHERE deleted = 0;
    CREATE TABLE kb_versions (
        entry_id INTEGER NOT NULL REFERENCES kb_entries(id),
        version INTEGER NOT NULL,
        action TEXT NOT NULL,
        snapshot TEXT NOT NULL,
        changed_by INTEGER REFERENCES users(id),
        changed_ms INTEGER NOT NULL,
        PRIMARY KEY (entry_id, version)
    ) WITHOUT ROWID;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 3: privacy: the audit log of admin actions, erased visitors, indexes the purge walks by
    """
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        ts_ms INTEGER NOT NULL,
        user_id INTEGER,
        username TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT '{}',
        address TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX audit_log_time ON audit_log(ts_ms);
    CREATE INDEX audit_log_action ON audit_log(action, ts_ms);
    ALTER TABLE visitors ADD COLUMN erased_ms INTEGER;
    CREATE INDEX visitors_last_seen ON visitors(last_seen_ms);
    CREATE INDEX offline_messages_created ON offline_messages(created_ms);
    """,
    # 4: reports read conversations by when they started; without this every range is a full scan
    """
    CREATE INDEX conversations_created ON conversations(created_ms);
    """,
    # 5: a user given a one-time password (the first admin) must choose their own before
    # anything else
    """
    ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
    """,
    # 6: the bot learns from agents (chatserver/service/learning.py): a visitor's question that
    # an agent answered with a knowledge-base entry, proposed as a new phrasing of that entry
    # until an admin approves (the phrasing joins the entry as a new version) or rejects it.
    # `text` is the visitor's words: privacy export/erase and retention cover it. `source`: the
    # agent's line came from the entry (agent-assist Insert, a canned response linked to it) or
    # the entry was chosen when closing. The decider's name is copied in, as in audit_log, so
    # the row still says who decided after a rename.
    """
    CREATE TABLE kb_proposals (
        id INTEGER PRIMARY KEY,
        entry_id INTEGER NOT NULL REFERENCES kb_entries(id),
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        language TEXT NOT NULL DEFAULT '',
        text TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('message', 'close')),
        agent_id INTEGER,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
        created_ms INTEGER NOT NULL,
        decided_ms INTEGER,
        decided_by INTEGER,
        decided_by_name TEXT NOT NULL DEFAULT '',
        added_text TEXT,
        entry_version INTEGER,
        UNIQUE (conversation_id, entry_id)
    );
    CREATE INDEX kb_proposals_status ON kb_proposals(status, created_ms);
    CREATE INDEX kb_proposals_created ON kb_proposals(created_ms);
    """,
    # 7: agent presence, append-only like the event log: one row each time an agent's routing
    # status changes (online = may be offered chats; away; offline = no socket). The staffing
    # advice on /admin/reports reads the agents actually online per hour of the week from it.
    """
    CREATE TABLE agent_presence (
        agent_id INTEGER NOT NULL,
        ts_ms INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('online', 'away', 'offline'))
    );
    CREATE INDEX agent_presence_time ON agent_presence(ts_ms);
    """,
    # 8: attachments (issue 19). The bytes live in the database: it is the one store every
    # server process (and, on PostgreSQL, every machine) already shares, and the row commits
    # in the same transaction as the chat line that carries it, so a line never points at a
    # file that was not kept. `data` is what is served (images re-encoded, metadata gone);
    # `thumbnail` a small JPEG/PNG for previews. `visitor_id` lets export, erase and the
    # retention purge find a visitor's files without reading the event log.
    """
    CREATE TABLE attachments (
        id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        visitor_id TEXT NOT NULL,
        author TEXT NOT NULL CHECK (author IN ('visitor', 'agent')),
        name TEXT NOT NULL,
        media_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        width INTEGER,
        height INTEGER,
        data BLOB NOT NULL,
        thumbnail BLOB,
        created_ms INTEGER NOT NULL
    );
    CREATE INDEX attachments_conversation ON attachments(conversation_id);
    CREATE INDEX attachments_visitor ON attachments(visitor_id);
    CREATE INDEX attachments_created ON attachments(created_ms);
    """,
    # 9: verified identity (issue 19): the site's own user id given to ChatWidget.identify().
    # `verified` = the site's server signed it (HMAC with the identity secret); one visitor row
    # per verified id, so the same customer on any device is the same visitor.
    """
    ALTER TABLE visitors ADD COLUMN external_id TEXT;
    ALTER TABLE visitors ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;
    CREATE UNIQUE INDEX visitors_verified ON visitors(external_id) WHERE verified = 1;
    """,
    # 10: labels (issue 19): the list admins manage, and which conversations carry which.
    # Adding and removing are `label` events in the log (the truth); conversation_labels is
    # their projection, written in the same transaction, so reports can filter by it.
    # `name_key` is what names clash on (core/labels.name_key: folded in Python, since the
    # backends' lower() differ); the API always sets it, NULL clashes with nothing.
    """
    CREATE TABLE labels (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        name_key TEXT,
        colour TEXT NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX labels_name ON labels(name_key) WHERE deleted = 0;
    CREATE TABLE conversation_labels (
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        label_id INTEGER NOT NULL REFERENCES labels(id),
        added_ms INTEGER NOT NULL,
        PRIMARY KEY (conversation_id, label_id)
    );
    CREATE INDEX conversation_labels_label ON conversation_labels(label_id);
    """,
    # 11: search (issue 19). `search_lines` holds each message line's terms, tokenised by one
    # pure function (core/search_text.py) and written in the line's own transaction; FTS5
    # indexes those tokens as they are (every character but the space is part of a token, no
    # folding of its own), kept in step by the triggers. `id` is the FTS rowid: an INTEGER
    # PRIMARY KEY, which VACUUM never renumbers. Lines stored before this migration are
    # indexed at start-up in the background (store/search.py `backfill`, the meta mark says
    # where it is). `rating` is the survey's, a projection of the log like `resolved`.
    # The visitor filter looks words up in `visitor_terms`: the terms of each visitor's name
    # and e-mail (the same tokeniser), matched as prefixes through the primary key. They are
    # folded in Python, so SQL cannot write them: a change of name or e-mail (or the erasure)
    # deletes them and marks the visitor unindexed (search_key NULL, a partial index), and
    # store/search.py indexes such visitors before it filters by visitor, and in the backfill.
    # `events_assigned`: the agent filter finds every agent a chat had, transfers included.
    """
    ALTER TABLE conversations ADD COLUMN rating INTEGER;
    UPDATE conversations SET rating = (
        SELECT CAST(json_extract(e.payload, '$.rating') AS INTEGER) FROM events e
        WHERE e.conversation_id = conversations.id AND e.type = 'survey'
        AND json_extract(e.payload, '$.rating') IN (1, 2, 3, 4, 5) ORDER BY e.seq DESC LIMIT 1)
    WHERE id IN (SELECT conversation_id FROM events WHERE type = 'survey');
    CREATE INDEX conversations_rating ON conversations(rating, created_ms)
        WHERE rating IS NOT NULL;
    CREATE TABLE search_lines (
        id INTEGER PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        seq INTEGER NOT NULL,
        terms TEXT NOT NULL,
        UNIQUE (conversation_id, seq)
    );
    CREATE VIRTUAL TABLE search_fts USING fts5(
        terms, content = 'search_lines', content_rowid = 'id', detail = none,
        tokenize = "unicode61 remove_diacritics 0 categories 'L* N* M* Co Cn Cs'"
    );
    CREATE TRIGGER search_lines_added AFTER INSERT ON search_lines BEGIN
        INSERT INTO search_fts (rowid, terms) VALUES (new.id, new.terms);
    END;
    CREATE TRIGGER search_lines_removed AFTER DELETE ON search_lines BEGIN
        INSERT INTO search_fts (search_fts, rowid, terms) VALUES ('delete', old.id, old.terms);
    END;
    INSERT INTO meta (key, value) SELECT 'search_backfill', '' WHERE EXISTS (
        SELECT 1 FROM events WHERE type = 'message');
    CREATE TABLE visitor_terms (
        term TEXT NOT NULL,
        visitor_id TEXT NOT NULL,
        PRIMARY KEY (term, visitor_id)
    ) WITHOUT ROWID;
    ALTER TABLE visitors ADD COLUMN search_key TEXT;
    CREATE INDEX visitors_unindexed ON visitors(id) WHERE search_key IS NULL;
    CREATE INDEX events_assigned ON events(author, conversation_id) WHERE type = 'assigned';
    CREATE TRIGGER visitors_renamed AFTER UPDATE OF name, email ON visitors
    WHEN old.name IS NOT new.name OR old.email IS NOT new.email BEGIN
        DELETE FROM visitor_terms WHERE visitor_id = old.id;
        UPDATE visitors SET search_key = NULL WHERE id = new.id;
    END;
    CREATE TRIGGER visitors_removed AFTER DELETE ON visitors BEGIN
        DELETE FROM visitor_terms WHERE visitor_id = old.id;
    END;
    """,
    # 12: an anonymous visitor that proved a verified id another visitor holds points at it,
    # so finding, exporting and erasing that customer covers what the anonymous one kept
    # (the name and e-mail it typed, an open chat that could not follow, offline messages)
    """
    ALTER TABLE visitors ADD COLUMN merged_into TEXT;
    CREATE INDEX visitors_merged_into ON visitors(merged_into) WHERE merged_into IS NOT NULL;
    """,
    # 13: each staff user's own language for the pages ('' = what the browser asks for) and
    # their switches for alerts (JSON: sound, desktop, title), chosen on /account
    """
    ALTER TABLE users ADD COLUMN language TEXT NOT NULL DEFAULT '';
    ALTER TABLE users ADD COLUMN preferences TEXT NOT NULL DEFAULT '{}';
    """,
    # 14: canned responses (issue 20): the team's (owner_id NULL, admins edit them) and each
    # staff user's own, with their text per language (JSON {"en": ..., "fa": ...}) and every
    # version kept as the knowledge base keeps its entries; deleting is soft, so history stays.
    # A shortcut is unique among the team's and among each user's own (0 stands for the team).
    """
    CREATE TABLE canned_responses (
        id INTEGER PRIMARY KEY,
        owner_id INTEGER REFERENCES users(id),
        shortcut TEXT NOT NULL,
        title TEXT NOT NULL,
        entry_id INTEGER REFERENCES kb_entries(id),
        variants TEXT NOT NULL,
        version INTEGER NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0,
        updated_ms INTEGER NOT NULL,
        updated_by INTEGER REFERENCES users(id)
    );
    CREATE UNIQUE INDEX canned_shortcuts ON canned_responses(coalesce(owner_id, 0), shortcut)
        WHERE deleted = 0;
    CREATE TABLE canned_versions (
        response_id INTEGER NOT NULL REFERENCES canned_responses(id),
        version INTEGER NOT NULL,
        action TEXT NOT NULL,
        snapshot TEXT NOT NULL,
        changed_by INTEGER REFERENCES users(id),
        changed_ms INTEGER NOT NULL,
        PRIMARY KEY (response_id, version)
    ) WITHOUT ROWID;
    """,
    # 15: webhooks (issue 21): endpoints admins register, the event types each takes, an
    # outbox row per (endpoint, event) written in the event's own transaction (store.py
    # `_append`), so nothing committed is skipped whatever order transactions commit in, and
    # the recent deliveries each endpoint got. The lease (owner, expiry) makes one process
    # deliver an endpoint's events at a time.
    """
    CREATE TABLE webhook_endpoints (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        secret TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        disabled_reason TEXT NOT NULL DEFAULT '',
        disabled_ms INTEGER,
        failing_since_ms INTEGER,
        lease_owner TEXT NOT NULL DEFAULT '',
        lease_expires_ms INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL,
        created_by INTEGER REFERENCES users(id)
    );
    CREATE TABLE webhook_subscriptions (
        type TEXT NOT NULL,
        endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id),
        PRIMARY KEY (type, endpoint_id)
    ) WITHOUT ROWID;
    CREATE TABLE webhook_outbox (
        endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id),
        conversation_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_ms INTEGER NOT NULL,
        PRIMARY KEY (endpoint_id, conversation_id, seq)
    ) WITHOUT ROWID;
    CREATE INDEX webhook_outbox_due ON webhook_outbox(endpoint_id, next_ms);
    CREATE TABLE webhook_deliveries (
        id INTEGER PRIMARY KEY,
        endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id),
        event_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        status INTEGER,
        duration_ms INTEGER NOT NULL,
        error TEXT NOT NULL DEFAULT '',
        ts_ms INTEGER NOT NULL
    );
    CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);
    """,
    # 16: API tokens (issue 21): a named token with its scopes ("read write admin"), found by
    # its id kept in clear (token_id) and checked against the SHA-256 of its secret (digest);
    # the secret itself is never stored. Revoked tokens stay, so the audit log's names resolve.
    """
    CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        token_id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        digest TEXT NOT NULL,
        scopes TEXT NOT NULL,
        created_by INTEGER REFERENCES users(id),
        created_ms INTEGER NOT NULL,
        last_used_ms INTEGER,
        revoked_ms INTEGER,
        revoked_by INTEGER REFERENCES users(id)
    );
    """,
    # 17: e-mail (issue 21): the outbox. A mail is composed and written in the transaction of
    # what causes it (an offline message, a visitor's transcript request), `key` naming that
    # cause (one mail each), whole (subject, text and HTML parts, Message-ID), so every retry
    # sends the same bytes. A sender claims due rows with a lease (owner, until) so processes
    # never send one row at once; a sent or failed row is kept `retention.sent_mail_days`.
    # `visitor_id`: whose personal data it holds (erasure deletes their mails).
    """
    CREATE TABLE mail_outbox (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        visitor_id TEXT NOT NULL DEFAULT '',
        recipient TEXT NOT NULL,
        reply_to TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL,
        body_text TEXT NOT NULL,
        body_html TEXT NOT NULL,
        message_id TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_ms INTEGER NOT NULL,
        lease_owner TEXT NOT NULL DEFAULT '',
        lease_until_ms INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        created_ms INTEGER NOT NULL,
        done_ms INTEGER
    );
    CREATE INDEX mail_outbox_due ON mail_outbox(next_ms) WHERE state = 'queued';
    CREATE INDEX mail_outbox_done ON mail_outbox(done_ms) WHERE state != 'queued';
    CREATE INDEX mail_outbox_visitor ON mail_outbox(visitor_id, kind, created_ms);
    """,
    # 18: read receipts (issue 20): the seq up to which the agent side has read the chat (the
    # highest `read` an agent holding it sent), so a console on another device, or after a
    # reload, counts and alerts only the visitor's lines after it
    """
    ALTER TABLE conversations ADD COLUMN agent_read_seq INTEGER NOT NULL DEFAULT 0;
    """,
    # 19: search indexing leaves the line's transaction (issue 22): the append writes only the
    # line's key here; store/search.py indexes waiting lines in groups of thousands (a second
    # later, or at once when someone searches), where FTS5 costs a fraction of what it costs
    # a line at a time. The index itself is unchanged.
    """
    CREATE TABLE search_pending (
        id INTEGER PRIMARY KEY,
        conversation_id TEXT NOT NULL,
        seq INTEGER NOT NULL
    );
    """,
]

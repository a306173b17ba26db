import DocumentStore
import PostgresNIO

/// The PostgreSQL store's migrations: the SQLite store's tables (Sources/DocumentStore/StoreSchema.swift)
/// for every collection of one database, keyed by `collection_id`, with the same constraints.
///
/// - `quiver_collections`: one row per collection: settings, the change counter `seq` and
///   `last_label` (the last document label handed out). Every write transaction locks its
///   collection's row first (`FOR UPDATE`) and advances both in the same transaction, so seqs are
///   handed out in commit order without gaps — a follower reading `seq > N` never skips a change
///   that commits later (a `bigserial` would not give that) — and labels are never reused.
/// - `quiver_generations`, `quiver_documents`, `quiver_vectors`: as in SQLite (schema v3), plus
///   `collection_id`; the primary key `(collection_id, generation, label)` makes two committed
///   vectors of one document in one generation impossible.
/// - Version 2 adds `quiver_collections.tuning`, the settings an owner may change at any time (a
///   JSON object, as SQLite's schema v4).
///
/// Applied versions are rows of `quiver_migrations`; a database with a version this build does not
/// know is refused. Migrations run under an advisory lock, so processes starting together apply
/// each once.
enum PostgresSchema {
    /// Key of the advisory lock migrations hold (any constant unique to Quiver).
    static let lockKey: Int64 = 0x5155_4956_4552  // "QUIVER"

    /// Every migration, in order: version and statements.
    static let migrations: [(version: Int, sql: [String])] = [
        (
            1,
            [
                """
                CREATE TABLE quiver_collections (
                    collection_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    name text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
                    metric text NOT NULL CHECK (metric IN ('cosine', 'dot', 'l2')),
                    hnsw_m bigint NOT NULL CHECK (hnsw_m BETWEEN 2 AND 128),
                    hnsw_ef_construction bigint NOT NULL CHECK (hnsw_ef_construction BETWEEN 1 AND 100000),
                    seq bigint NOT NULL DEFAULT 0 CHECK (seq >= 0),
                    last_label bigint NOT NULL DEFAULT 0 CHECK (last_label >= 0),
                    created_at double precision NOT NULL,
                    last_sync_at double precision
                )
                """,
                """
                CREATE TABLE quiver_generations (
                    collection_id bigint NOT NULL REFERENCES quiver_collections ON DELETE CASCADE,
                    generation bigint NOT NULL CHECK (generation >= 1),
                    model_id text NOT NULL,
                    model_fingerprint text NOT NULL CHECK (length(model_fingerprint) BETWEEN 1 AND 128),
                    dimensions bigint NOT NULL CHECK (dimensions BETWEEN 1 AND 65536),
                    state text NOT NULL CHECK (state IN ('building', 'current', 'previous')),
                    created_at double precision NOT NULL,
                    completed_at double precision,
                    candidate boolean NOT NULL DEFAULT false,
                    chunk_tokens bigint NOT NULL DEFAULT 0 CHECK (chunk_tokens BETWEEN 0 AND 65536),
                    chunk_overlap bigint NOT NULL DEFAULT 0 CHECK (chunk_overlap >= 0),
                    PRIMARY KEY (collection_id, generation)
                )
                """,
                "CREATE UNIQUE INDEX quiver_generations_one_current ON quiver_generations (collection_id) WHERE state = 'current'",
                "CREATE UNIQUE INDEX quiver_generations_one_building ON quiver_generations (collection_id) WHERE state = 'building'",
                """
                CREATE TABLE quiver_documents (
                    collection_id bigint NOT NULL REFERENCES quiver_collections ON DELETE CASCADE,
                    label bigint NOT NULL CHECK (label >= 1),
                    id text NOT NULL CHECK (length(id) BETWEEN 1 AND 1024),
                    title text,
                    text text,
                    metadata text CHECK (metadata IS NULL OR json_typeof(metadata::json) IS NOT NULL),
                    updated_at double precision NOT NULL,
                    seq bigint NOT NULL CHECK (seq >= 1),
                    deleted boolean NOT NULL DEFAULT false,
                    CHECK (NOT deleted OR (title IS NULL AND text IS NULL AND metadata IS NULL)),
                    PRIMARY KEY (collection_id, label),
                    UNIQUE (collection_id, id)
                )
                """,
                "CREATE INDEX quiver_documents_seq ON quiver_documents (collection_id, seq)",
                """
                CREATE TABLE quiver_vectors (
                    collection_id bigint NOT NULL,
                    generation bigint NOT NULL,
                    label bigint NOT NULL,
                    content_hash bytea NOT NULL CHECK (length(content_hash) = 32),
                    embedded_at double precision NOT NULL,
                    source_seq bigint NOT NULL,
                    vector bytea NOT NULL CHECK (length(vector) % 4 = 0 AND length(vector) > 0),
                    chunks bytea CHECK (chunks IS NULL OR (length(chunks) % 8 = 0 AND length(chunks) > 0)),
                    chunk_vectors bytea CHECK (chunk_vectors IS NULL OR length(chunk_vectors) % 4 = 0),
                    PRIMARY KEY (collection_id, generation, label),
                    FOREIGN KEY (collection_id, generation) REFERENCES quiver_generations ON DELETE CASCADE,
                    FOREIGN KEY (collection_id, label) REFERENCES quiver_documents ON DELETE CASCADE
                )
                """,
                "CREATE INDEX quiver_vectors_label ON quiver_vectors (collection_id, label)",
                // Float vectors do not compress: stored out of line without trying.
                "ALTER TABLE quiver_vectors ALTER COLUMN vector SET STORAGE EXTERNAL",
                "ALTER TABLE quiver_vectors ALTER COLUMN chunk_vectors SET STORAGE EXTERNAL",
            ]
        ),
        (
            2,
            [
                """
                ALTER TABLE quiver_collections ADD COLUMN tuning text
                    CHECK (tuning IS NULL OR json_typeof(tuning::json) = 'object')
                """
            ]
        ),
        (
            // Forks of history (a standby promoted without the primary's last writes): every
            // commit that moves a collection's seq records the server's timeline; the first on a
            // new timeline also records the seq it started from. A follower that applied changes
            // beyond that seq on the old timeline rebuilds (IndexFollower).
            3,
            [
                """
                ALTER TABLE quiver_collections ADD COLUMN timeline bigint NOT NULL DEFAULT 0 CHECK (timeline >= 0)
                """,
                """
                CREATE TABLE quiver_timelines (
                    collection_id bigint NOT NULL REFERENCES quiver_collections ON DELETE CASCADE,
                    timeline bigint NOT NULL,
                    base_seq bigint NOT NULL,
                    PRIMARY KEY (collection_id, timeline)
                )
                """,
                """
                CREATE FUNCTION quiver_note_timeline() RETURNS trigger LANGUAGE plpgsql AS $fn$
                DECLARE
                    current_timeline bigint;
                BEGIN
                    IF NEW.seq IS DISTINCT FROM OLD.seq THEN
                        -- The first 8 hex digits of a WAL file's name are its timeline.
                        current_timeline := ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint;
                        IF current_timeline <> OLD.timeline THEN
                            NEW.timeline := current_timeline;
                            INSERT INTO quiver_timelines (collection_id, timeline, base_seq)
                            VALUES (OLD.collection_id, current_timeline, OLD.seq) ON CONFLICT DO NOTHING;
                        END IF;
                    END IF;
                    RETURN NEW;
                END
                $fn$
                """,
                """
                CREATE TRIGGER quiver_collections_timeline BEFORE UPDATE OF seq ON quiver_collections
                FOR EACH ROW EXECUTE FUNCTION quiver_note_timeline()
                """,
            ]
        ),
    ]

    /// Applies the migrations `session`'s database lacks, under the advisory lock; returns the
    /// versions applied. Runs inside the caller's transaction (``PostgresPool/transaction(readOnly:_:)``),
    /// which holds the lock until it commits.
    ///
    /// - Throws: `.unsupportedSchema` when the database has a version this build does not know.
    @discardableResult
    static func migrate(_ session: PostgresSession) throws -> [Int] {
        try session.query("SELECT pg_advisory_xact_lock($1)", binds(lockKey))
        try session.execute(
            """
            CREATE TABLE IF NOT EXISTS quiver_migrations (
                version bigint PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
            """)
        let applied = Set(try session.query("SELECT version FROM quiver_migrations").map { try $0.get(0, Int.self) })
        let known = Set(migrations.map(\.version))
        if let unknown = applied.subtracting(known).max() {
            throw DocumentStoreError.unsupportedSchema(
                path: session.location.description, reason: "schema version \(unknown) is newer than this build's")
        }
        var done: [Int] = []
        for migration in migrations where !applied.contains(migration.version) {
            for statement in migration.sql { try session.execute(statement) }
            try session.execute("INSERT INTO quiver_migrations (version) VALUES ($1)", binds(migration.version))
            done.append(migration.version)
        }
        return done
    }

    /// Whether every known migration is applied (a read; nothing is changed).
    static func isCurrent(_ session: PostgresSession) throws -> Bool {
        let exists = try session.query("SELECT to_regclass('quiver_migrations') IS NOT NULL").first?.get(0, Bool.self) ?? false
        guard exists else { return false }
        let applied = Set(try session.query("SELECT version FROM quiver_migrations").map { try $0.get(0, Int.self) })
        return Set(migrations.map(\.version)).isSubset(of: applied)
    }
}

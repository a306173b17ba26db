import GRDB

/// The store's migrations. The schema holds every constraint it can (STRICT tables, CHECKs,
/// foreign keys), so a bug in the engine becomes an error here instead of bad data on disk.
///
/// - `collection`: one row of settings and the change counter `seq` (the last sequence number
///   handed out).
/// - `generations`: one row per index generation: the model that produced its vectors and its
///   state (`building` → `current` → `previous` → deleted at the next switch).
/// - `documents`: one row per document id ever seen. `label` (the rowid, AUTOINCREMENT so it is
///   never reused) is the stable HNSW label. A delete keeps the row as a tombstone
///   (`deleted = 1`, content cleared) so that an index catching up by `seq` sees it.
/// - `vectors`: one row per (generation, document): the embedding as little-endian float32, the
///   content hash it was computed from, when, and the document `seq` it reflects.
///
/// `v2` adds `generations.candidate`: a building generation held for evaluation, switched in only
/// by an explicit promote (1), or switched in as soon as it is complete (0, the default).
///
/// `v3` adds chunking: `generations.chunk_tokens` / `chunk_overlap` (0 = one vector per document,
/// as before), and per vector row `chunks` (the passages' spans: little-endian int32 start and
/// end per passage, Unicode scalar offsets into the text) and `chunk_vectors` (their vectors,
/// one row per span). `vector` stays the document's vector (the passages' mean, normalized), so
/// every reader of document vectors is unchanged.
///
/// `v4` adds `collection.tuning`: the settings an owner may change at any time, a JSON object the
/// engine validates and reads (``CollectionSettings/tuning``).
enum StoreSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE collection (
                        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                        name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
                        metric TEXT NOT NULL CHECK (metric IN ('cosine', 'dot', 'l2')),
                        hnsw_m INTEGER NOT NULL CHECK (hnsw_m BETWEEN 2 AND 128),
                        hnsw_ef_construction INTEGER NOT NULL CHECK (hnsw_ef_construction BETWEEN 1 AND 100000),
                        seq INTEGER NOT NULL DEFAULT 0 CHECK (seq >= 0),
                        created_at REAL NOT NULL,
                        last_sync_at REAL
                    ) STRICT;

                    CREATE TABLE generations (
                        generation INTEGER PRIMARY KEY CHECK (generation >= 1),
                        model_id TEXT NOT NULL,
                        model_fingerprint TEXT NOT NULL CHECK (length(model_fingerprint) BETWEEN 1 AND 128),
                        dimensions INTEGER NOT NULL CHECK (dimensions BETWEEN 1 AND 65536),
                        state TEXT NOT NULL CHECK (state IN ('building', 'current', 'previous')),
                        created_at REAL NOT NULL,
                        completed_at REAL
                    ) STRICT;
                    CREATE UNIQUE INDEX generations_one_current ON generations(state) WHERE state = 'current';
                    CREATE UNIQUE INDEX generations_one_building ON generations(state) WHERE state = 'building';

                    CREATE TABLE documents (
                        label INTEGER PRIMARY KEY AUTOINCREMENT,
                        id TEXT NOT NULL UNIQUE CHECK (length(id) BETWEEN 1 AND 1024),
                        title TEXT,
                        text TEXT,
                        metadata TEXT CHECK (metadata IS NULL OR json_valid(metadata)),
                        updated_at REAL NOT NULL,
                        seq INTEGER NOT NULL CHECK (seq >= 1),
                        deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
                        CHECK (deleted = 0 OR (title IS NULL AND text IS NULL AND metadata IS NULL))
                    ) STRICT;
                    CREATE INDEX documents_seq ON documents(seq);

                    CREATE TABLE vectors (
                        generation INTEGER NOT NULL REFERENCES generations(generation) ON DELETE CASCADE,
                        label INTEGER NOT NULL REFERENCES documents(label) ON DELETE CASCADE,
                        content_hash BLOB NOT NULL CHECK (length(content_hash) = 32),
                        embedded_at REAL NOT NULL,
                        source_seq INTEGER NOT NULL,
                        vector BLOB NOT NULL CHECK (length(vector) % 4 = 0 AND length(vector) > 0),
                        PRIMARY KEY (generation, label)
                    ) STRICT;
                    CREATE INDEX vectors_label ON vectors(label);
                    """)
        }
        migrator.registerMigration("v2") { db in
            try db.execute(
                sql: "ALTER TABLE generations ADD COLUMN candidate INTEGER NOT NULL DEFAULT 0 CHECK (candidate IN (0, 1))")
        }
        migrator.registerMigration("v3") { db in
            try db.execute(
                sql: """
                    ALTER TABLE generations ADD COLUMN chunk_tokens INTEGER NOT NULL DEFAULT 0 CHECK (chunk_tokens BETWEEN 0 AND 65536);
                    ALTER TABLE generations ADD COLUMN chunk_overlap INTEGER NOT NULL DEFAULT 0 CHECK (chunk_overlap >= 0);
                    ALTER TABLE vectors ADD COLUMN chunks BLOB CHECK (chunks IS NULL OR (length(chunks) % 8 = 0 AND length(chunks) > 0));
                    ALTER TABLE vectors ADD COLUMN chunk_vectors BLOB CHECK (chunk_vectors IS NULL OR length(chunk_vectors) % 4 = 0);
                    """)
        }
        migrator.registerMigration("v4") { db in
            try db.execute(
                sql: "ALTER TABLE collection ADD COLUMN tuning TEXT CHECK (tuning IS NULL OR json_type(tuning) = 'object')")
        }
        return migrator
    }
}

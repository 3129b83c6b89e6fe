// The workspace database schema, as an ordered list of migrations. PRAGMA user_version records how many have run;
// a migration is never edited once released, only followed by another.

export const migrations: string[] = [
  // 1: crawl and curate
  `
  CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,              -- folder | txt | csv | tsv | jsonl | parquet | page
    uri TEXT NOT NULL UNIQUE,
    added_at TEXT NOT NULL DEFAULT (datetime('now')),
    done INTEGER NOT NULL DEFAULT 0  -- 1 once every item of the source has been enumerated
  );

  -- One row per URL or file met: its fate is recorded here whatever happens to it.
  CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    uri TEXT NOT NULL UNIQUE,
    meta TEXT,                       -- JSON: caption, licence and other columns of the source row
    status TEXT NOT NULL DEFAULT 'pending',
    -- pending | ok | failed | skipped
    reason TEXT,                     -- for failed/skipped: http_404, timeout, robots, noai, too_large, not_image, ...
    http_status INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER,
    content_type TEXT,
    image_sha256 TEXT,
    depth INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT
  );
  CREATE INDEX items_status ON items(status, reason);
  CREATE INDEX items_source ON items(source_id);

  CREATE TABLE images (
    sha256 TEXT PRIMARY KEY,
    width INTEGER, height INTEGER,
    format TEXT,
    bytes INTEGER,
    origin TEXT NOT NULL,            -- first URL or path it was met at
    licence TEXT,
    caption TEXT,
    status TEXT NOT NULL,            -- accepted | rejected | no_face | failed
    reason TEXT,
    n_faces INTEGER NOT NULL DEFAULT 0,
    face_ratio REAL,
    blob_path TEXT,                  -- copy of the source bytes under workspace/images/, for export and the UI
    analysed_at TEXT NOT NULL DEFAULT (datetime('now'))
  );
  CREATE INDEX images_status ON images(status, reason);

  CREATE TABLE faces (
    id INTEGER PRIMARY KEY,
    image_sha256 TEXT NOT NULL REFERENCES images(sha256),
    idx INTEGER NOT NULL,            -- rank of the face in its image, largest first
    x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
    score REAL NOT NULL,
    face_ratio REAL NOT NULL,
    landmarks TEXT,                  -- JSON [[x,y],...] in source pixels
    yaw REAL, pitch REAL, roll REAL,
    sharpness REAL,
    dhash TEXT,                      -- 64-bit perceptual hash of the grey crop, hex
    descriptor_row INTEGER,          -- row in index/descriptors.f32, NULL when not described
    status TEXT NOT NULL,            -- accepted | rejected | duplicate
    reason TEXT,
    dup_of INTEGER REFERENCES faces(id),
    UNIQUE(image_sha256, idx)
  );
  CREATE INDEX faces_status ON faces(status, reason);
  CREATE INDEX faces_image ON faces(image_sha256);

  -- Curation decisions by people (web UI or CLI), newest wins; the faces row carries the effective status.
  CREATE TABLE decisions (
    id INTEGER PRIMARY KEY,
    face_id INTEGER NOT NULL REFERENCES faces(id),
    action TEXT NOT NULL,            -- accept | reject | tag | untag | add_to_set
    value TEXT,
    who TEXT NOT NULL,
    at TEXT NOT NULL DEFAULT (datetime('now'))
  );
  CREATE INDEX decisions_face ON decisions(face_id);

  CREATE TABLE tags (face_id INTEGER NOT NULL REFERENCES faces(id), tag TEXT NOT NULL, PRIMARY KEY(face_id, tag));

  CREATE TABLE sets (
    name TEXT PRIMARY KEY,
    created_at TEXT NOT NULL DEFAULT (datetime('now')),
    kind TEXT NOT NULL DEFAULT 'curated', -- curated | expanded | manual
    meta TEXT
  );
  CREATE TABLE set_members (
    set_name TEXT NOT NULL REFERENCES sets(name),
    face_id INTEGER NOT NULL REFERENCES faces(id),
    added_at TEXT NOT NULL DEFAULT (datetime('now')),
    added_by TEXT,
    PRIMARY KEY(set_name, face_id)
  );
  `,
  // 2: training and evaluation
  `
  CREATE TABLE runs (
    name TEXT PRIMARY KEY,
    data TEXT,                       -- curated set directory trained on
    config TEXT NOT NULL,            -- JSON, the merged training config
    backend TEXT,
    status TEXT NOT NULL DEFAULT 'running', -- running | stopped | done | failed
    step INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (datetime('now')),
    updated_at TEXT
  );
  CREATE TABLE metrics (
    run TEXT NOT NULL REFERENCES runs(name),
    step INTEGER NOT NULL,
    values_json TEXT NOT NULL,       -- {"loss":..,"distill":..,"proto":..,"lr":..,...}
    at TEXT NOT NULL DEFAULT (datetime('now')),
    PRIMARY KEY(run, step)
  );
  CREATE TABLE evals (
    id INTEGER PRIMARY KEY,
    run TEXT NOT NULL,               -- run name, or a baseline: random | human
    task TEXT NOT NULL,              -- attributes | expression | landmarks
    dataset TEXT NOT NULL,
    protocol TEXT NOT NULL,          -- linear | finetune
    shots INTEGER,                   -- NULL: full
    seed INTEGER NOT NULL DEFAULT 0,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    extra TEXT,
    at TEXT NOT NULL DEFAULT (datetime('now'))
  );
  -- Learned embeddings of faces per run, rows in index/runs/<run>.f32.
  CREATE TABLE embeddings (
    run TEXT NOT NULL,
    face_id INTEGER NOT NULL REFERENCES faces(id),
    row INTEGER NOT NULL,
    PRIMARY KEY(run, face_id)
  );
  `,
  // 3: pages met while crawling are recorded beside the images they led to
  `
  ALTER TABLE items ADD COLUMN kind TEXT NOT NULL DEFAULT 'image'; -- image | page
  CREATE INDEX items_kind ON items(kind, status);
  `,
  // 4: indexes for the web UI at 100k faces: covering indexes so the grid's filters, sorts and counts read narrow
  // index entries instead of face rows (whose landmark JSON, ~6 KB each, makes a table scan read all of it), and
  // lookups by duplicate, tag and set member for the detail page and the filters
  `
  CREATE INDEX faces_grid ON faces(status, score, face_ratio, sharpness, yaw, pitch, reason);
  CREATE INDEX faces_grid_id ON faces(id, status, score, face_ratio, sharpness, yaw, pitch, reason);
  CREATE INDEX faces_grid_score ON faces(score, id, status, face_ratio, sharpness, yaw, pitch, reason);
  CREATE INDEX faces_grid_ratio ON faces(face_ratio, id, status, score, sharpness, yaw, pitch, reason);
  CREATE INDEX faces_grid_sharpness ON faces(sharpness, id, status, score, face_ratio, yaw, pitch, reason);
  CREATE INDEX faces_dup ON faces(dup_of);
  CREATE INDEX tags_tag ON tags(tag, face_id);
  CREATE INDEX set_members_face ON set_members(face_id);
  `,
  // 5: the web UI's image detail lists the items (URLs, files) an image was met at; its overview counts fetch
  // outcomes by kind, status and reason from an index instead of the rows
  `
  CREATE INDEX items_image ON items(image_sha256);
  CREATE INDEX items_outcome ON items(kind, status, reason);
  `,
  // 6: privacy and provenance. forget_requests is both the journal of a forget (its plan in forget_faces,
  // forget_images and forget_embeddings, its progress in `step`) and, once done, its audit row; the plan tables are
  // emptied when it finishes, so the audit keeps counts and run names only, never a descriptor. Opt-outs are
  // honoured by every later crawl; a face opt-out's descriptor lives in index/optout.f32 (row descriptor_row).
  // Lineage: each set version a run read (manifest hash) and the face ids in it.
  `
  CREATE TABLE forget_requests (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,               -- sha256 of the canonical request: rerunning the same command resumes it
    who TEXT NOT NULL,
    asked TEXT NOT NULL,             -- JSON: mode, urls, domains, set, number of examples, threshold
    step TEXT NOT NULL DEFAULT 'planned', -- planned | descriptors | indexes | exports | caches | rows | blobs | done
    counts TEXT,                     -- JSON: faces, images, files removed
    runs TEXT,                       -- JSON list: runs that trained on any forgotten face
    created_at TEXT NOT NULL DEFAULT (datetime('now')),
    finished_at TEXT
  );
  CREATE INDEX forget_requests_key ON forget_requests(key, step);
  CREATE TABLE forget_faces (
    request_id INTEGER NOT NULL REFERENCES forget_requests(id),
    face_id INTEGER NOT NULL,
    image_sha256 TEXT NOT NULL,
    descriptor_row INTEGER,
    PRIMARY KEY(request_id, face_id)
  );
  CREATE TABLE forget_images (
    request_id INTEGER NOT NULL REFERENCES forget_requests(id),
    sha256 TEXT NOT NULL,
    blob_path TEXT,
    whole INTEGER NOT NULL,          -- 1: no kept face needs the image (row, blob and its items go); 0: only faces go
    PRIMARY KEY(request_id, sha256)
  );
  CREATE TABLE forget_embeddings (
    request_id INTEGER NOT NULL REFERENCES forget_requests(id),
    run TEXT NOT NULL,
    face_id INTEGER NOT NULL,
    row INTEGER NOT NULL,
    PRIMARY KEY(request_id, run, face_id)
  );
  CREATE TABLE optouts (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,              -- domain | prefix | url | face
    value TEXT,                      -- the domain, URL prefix or URL; NULL for a face
    descriptor_row INTEGER,          -- face: its row in index/optout.f32
    request_id INTEGER,              -- the forget request that added it, if one did
    note TEXT,
    added_at TEXT NOT NULL DEFAULT (datetime('now')),
    UNIQUE(kind, value)
  );
  CREATE TABLE run_sets (
    run TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    set_dir TEXT NOT NULL,
    faces INTEGER NOT NULL,
    step INTEGER NOT NULL,           -- the step the run was at when it read this version
    at TEXT NOT NULL DEFAULT (datetime('now')),
    PRIMARY KEY(run, manifest_sha256)
  );
  CREATE TABLE run_faces (run TEXT NOT NULL, face_id INTEGER NOT NULL, PRIMARY KEY(run, face_id));
  CREATE INDEX run_faces_face ON run_faces(face_id);
  CREATE TABLE run_affected (
    run TEXT NOT NULL,
    request_id INTEGER NOT NULL REFERENCES forget_requests(id),
    faces INTEGER NOT NULL,          -- forgotten faces the run had trained on
    PRIMARY KEY(run, request_id)
  );
  `,
  // Scale-out (pros curate --queue): each shard of items handed to the job queue, and where it stands, so a stopped
  // coordinator picks up from the queue's state; items.shard names the shard an item went out in.
  `
  CREATE TABLE shards (
    id INTEGER PRIMARY KEY,
    items INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued', -- queued | merged | failed
    error TEXT,
    worker TEXT,
    queued_at TEXT NOT NULL DEFAULT (datetime('now')),
    finished_at TEXT
  );
  CREATE INDEX shards_state ON shards(state);
  ALTER TABLE items ADD COLUMN shard INTEGER;
  CREATE INDEX items_shard ON items(shard);
  CREATE TABLE queue_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `,
];

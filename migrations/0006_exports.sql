-- CSV exports and SharePoint uploads.

CREATE TABLE exported_files (
    file_name      text        PRIMARY KEY,   -- e.g. dora_metrics_20261126.csv
    kind           text        NOT NULL,      -- dora_metrics, velocity_metrics, copilot_metrics, ...
    export_date    date        NOT NULL,
    rows           bigint      NOT NULL,
    bytes          bigint      NOT NULL,
    sha256         text        NOT NULL,
    schema_version integer     NOT NULL,
    run_id         bigint      REFERENCES collection_runs (id),
    exported_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE uploaded_files (
    file_name      text        PRIMARY KEY,
    sha256         text        NOT NULL,
    bytes          bigint      NOT NULL,
    drive_item_id  text        NOT NULL DEFAULT '',
    run_id         bigint      REFERENCES collection_runs (id),
    uploaded_at    timestamptz NOT NULL DEFAULT now()
);

-- The upload stage looks up the newest complete export (the newest date with a manifest).
CREATE INDEX exported_files_export_date ON exported_files (export_date, kind);

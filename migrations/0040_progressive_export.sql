-- Progressive export (issue 14): each file kind is exported as soon as the collections
-- it reads are complete, so latest/ may hold files of different export dates. Each
-- exported file records its window and, per enterprise, through which date its data is
-- complete, for the manifest of every later export that still lists it.

ALTER TABLE exported_files
    ADD COLUMN window_start     date,
    ADD COLUMN complete_through jsonb NOT NULL DEFAULT '{}';   -- {"ent1": "2026-11-25", "ent2": null}

-- latest/: the newest file of each kind.
CREATE INDEX exported_files_kind_date ON exported_files (kind, export_date DESC);
-- What a run delivered (run status, superseded runs).
CREATE INDEX exported_files_run ON exported_files (run_id) WHERE run_id IS NOT NULL;

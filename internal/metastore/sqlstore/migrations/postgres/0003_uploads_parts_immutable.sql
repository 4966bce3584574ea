-- 0003_uploads_parts_immutable (PostgreSQL dialect): part bookkeeping for
-- ECR's layer-part API rules (UploadLayerPart): every part but the last
-- must be at least 5 MiB, and an upload has at most 4,200 parts. The
-- registry service computes these; the store keeps them.

ALTER TABLE uploads ADD COLUMN parts BIGINT NOT NULL DEFAULT 0;
COMMENT ON COLUMN uploads.parts IS 'appends recorded so far';
ALTER TABLE uploads ADD COLUMN last_part_size BIGINT NOT NULL DEFAULT 0;
COMMENT ON COLUMN uploads.last_part_size IS 'bytes in the most recently recorded append';
ALTER TABLE uploads ADD COLUMN small_part INTEGER NOT NULL DEFAULT 0 CHECK (small_part IN (0, 1));
COMMENT ON COLUMN uploads.small_part IS '1 when a part other than the last was below the minimum size';

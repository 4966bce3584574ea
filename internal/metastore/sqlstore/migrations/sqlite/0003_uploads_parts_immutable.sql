-- Part bookkeeping for ECR's layer-part API rules (UploadLayerPart):
-- every part but the last must be at least 5 MiB, and an upload has at
-- most 4,200 parts. The registry service computes these; the store keeps them.

-- parts: appends recorded so far.
ALTER TABLE uploads ADD COLUMN parts INTEGER NOT NULL DEFAULT 0;
-- last_part_size: bytes in the most recently recorded append.
ALTER TABLE uploads ADD COLUMN last_part_size INTEGER NOT NULL DEFAULT 0;
-- small_part: 1 when a part other than the last was below the minimum size.
ALTER TABLE uploads ADD COLUMN small_part INTEGER NOT NULL DEFAULT 0;

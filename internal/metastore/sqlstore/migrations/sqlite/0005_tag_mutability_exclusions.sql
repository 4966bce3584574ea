-- Tag-mutability exclusion filters (ECR's imageTagMutabilityExclusionFilters,
-- filterType WILDCARD): with IMMUTABLE_WITH_EXCLUSION the tags matching a
-- filter stay mutable; with MUTABLE_WITH_EXCLUSION they are immutable.

-- tag_mutability_exclusions: the filter patterns, one per line ('' for none);
-- patterns match ^[0-9a-zA-Z._*-]{1,128}$, so they never contain a newline.
ALTER TABLE repositories ADD COLUMN tag_mutability_exclusions TEXT NOT NULL DEFAULT '';

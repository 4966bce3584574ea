-- 0005_tag_mutability_exclusions (PostgreSQL dialect): tag-mutability
-- exclusion filters (ECR's imageTagMutabilityExclusionFilters, filterType
-- WILDCARD): with IMMUTABLE_WITH_EXCLUSION the tags matching a filter stay
-- mutable; with MUTABLE_WITH_EXCLUSION they are immutable.

ALTER TABLE repositories ADD COLUMN tag_mutability_exclusions TEXT NOT NULL DEFAULT '';
COMMENT ON COLUMN repositories.tag_mutability_exclusions IS 'the filter patterns, one per line (empty for none); patterns match ^[0-9a-zA-Z._*-]{1,128}$, so they never contain a newline';

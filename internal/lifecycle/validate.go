package lifecycle

import (
	"fmt"
	"slices"
	"strings"
)

// checkRule applies the rules of spec §5.2 that concern one rule alone (3,
// 4, 5 and 8–12; the decoders already enforced 1, 6 and 14).
func checkRule(r Rule, path string) *InvalidPolicyError {
	if err := checkTagFilter(r.Selection, path+".selection"); err != nil {
		return err
	}
	if err := checkCount(r.Selection, path+".selection"); err != nil {
		return err
	}
	return checkAction(r, path)
}

// checkTagFilter: rules 3 and 4.
func checkTagFilter(s Selection, path string) *InvalidPolicyError {
	switch s.TagStatus {
	case TagStatusTagged:
		if s.TagPatternList == nil && s.TagPrefixList == nil {
			return invalidf("%s: Must specify tagPrefixList or tagPatternList when tagStatus=TAGGED", path)
		}
		if s.TagPatternList != nil && s.TagPrefixList != nil {
			return invalidf("%s: tagPatternList and tagPrefixList cannot both be set in one rule; use one of them", path)
		}
	default:
		status := strings.ToLower(string(s.TagStatus))
		if s.TagPatternList != nil {
			return invalidf("%s.tagPatternList is not allowed with tagStatus %q; only tagged rules filter by tag", path, status)
		}
		if s.TagPrefixList != nil {
			return invalidf("%s.tagPrefixList is not allowed with tagStatus %q; only tagged rules filter by tag", path, status)
		}
	}
	for i, pat := range s.TagPatternList {
		if n := strings.Count(pat, "*"); n > MaxWildcards {
			return invalidf("%s.tagPatternList[%d] %s has %d wildcards (*); at most %d are allowed", path, i, quote(pat), n, MaxWildcards)
		}
	}
	for i, prefix := range s.TagPrefixList {
		if strings.Contains(prefix, "*") {
			return invalidf("%s.tagPrefixList[%d] %s contains *; prefixes are literal, use tagPatternList for wildcards", path, i, quote(prefix))
		}
	}
	return nil
}

// checkCount: rules 5, 8 and 12.
func checkCount(s Selection, path string) *InvalidPolicyError {
	if s.CountType == ImageCountMoreThan {
		if s.CountUnit != "" {
			return invalidf("%s.countUnit is not allowed with countType %q", path, s.CountType)
		}
	} else if s.CountUnit == "" {
		return invalidf("%s.countUnit is required with countType %q (its only value is \"days\")", path, s.CountType)
	}
	if s.StorageClass == Archive && s.CountType != SinceImageTransitioned {
		return invalidf("%s: storageClass \"archive\" requires countType \"sinceImageTransitioned\" (got %q)", path, s.CountType)
	}
	if s.CountType == SinceImageTransitioned && s.StorageClass != Archive {
		return invalidf("%s: countType \"sinceImageTransitioned\" requires storageClass \"archive\"", path)
	}
	if s.CountType == SinceImageTransitioned && s.CountNumber < MinArchiveDays {
		return invalidf("%s.countNumber must be at least %d with countType \"sinceImageTransitioned\" (got %d): "+
			"archived images have a %d-day minimum storage duration", path, MinArchiveDays, s.CountNumber, MinArchiveDays)
	}
	return nil
}

// checkAction: rules 9, 10 and 11.
func checkAction(r Rule, path string) *InvalidPolicyError {
	a, ct := r.Action, r.Selection.CountType
	if a.Type == Transition && a.TargetStorageClass == "" {
		return invalidf("%s.action.targetStorageClass is required with action type \"transition\" (its only value is \"archive\")", path)
	}
	if a.Type == Expire && a.TargetStorageClass != "" {
		return invalidf("%s.action.targetStorageClass is not allowed with action type \"expire\"", path)
	}
	if ct == SinceImagePulled && a.Type != Transition {
		return invalidf("%s: countType \"sinceImagePulled\" can only be used with action type \"transition\"", path)
	}
	if ct == SinceImageTransitioned && a.Type != Expire {
		return invalidf("%s: countType \"sinceImageTransitioned\" can only be used with action type \"expire\"", path)
	}
	return nil
}

// checkAcrossRules applies the rules that concern several rules (2, 7 and
// 13). rules are in document order, so indices name rules[i].
func checkAcrossRules(rules []Rule) *InvalidPolicyError {
	byPriority := make(map[int]int, len(rules))
	for i, r := range rules {
		if j, dup := byPriority[r.Priority]; dup {
			return invalidf("rulePriority %d is used by both rules[%d] and rules[%d]; each rule needs a unique rulePriority", r.Priority, j, i)
		}
		byPriority[r.Priority] = i
	}
	for i, r := range rules {
		if r.Selection.TagStatus != TagStatusAny {
			continue
		}
		for j, o := range rules {
			if o.Selection.StorageClass == r.Selection.StorageClass && o.Priority > r.Priority {
				return invalidf("rules[%d] (rulePriority %d) has tagStatus \"any\" but rules[%d] (rulePriority %d) selects %s images "+
					"after it: Rule for tagStatus=ANY must have the lowest priority per storage class (the highest rulePriority)",
					i, r.Priority, j, o.Priority, lower(r.Selection.StorageClass))
			}
		}
	}
	filters := make(map[string]int, len(rules))
	untagged := make(map[StorageClass]int, 2)
	for i, r := range rules {
		s := r.Selection
		switch s.TagStatus {
		case TagStatusUntagged:
			if j, dup := untagged[s.StorageClass]; dup {
				return invalidf("Only one rule can select Untagged images per storage class: rules[%d] and rules[%d] both select untagged %s images",
					j, i, lower(s.StorageClass))
			}
			untagged[s.StorageClass] = i
		case TagStatusTagged:
			key := filterKey(s)
			if j, dup := filters[key]; dup {
				return invalidf("rules[%d] and rules[%d] select %s images with the same %s; each rule's tag filter must be unique per storage class",
					j, i, lower(s.StorageClass), listName(s))
			}
			filters[key] = i
		}
	}
	return nil
}

// filterKey identifies a tagged rule's filter as a set: order and repeats
// in the list do not matter. Patterns and prefixes never collide.
func filterKey(s Selection) string {
	list, kind := s.TagPatternList, "pattern"
	if list == nil {
		list, kind = s.TagPrefixList, "prefix"
	}
	set := slices.Compact(slices.Sorted(slices.Values(list)))
	return fmt.Sprintf("%s %s %q", s.StorageClass, kind, set)
}

func listName(s Selection) string {
	if s.TagPatternList != nil {
		return "tagPatternList"
	}
	return "tagPrefixList"
}

func lower(c StorageClass) string { return strings.ToLower(string(c)) }

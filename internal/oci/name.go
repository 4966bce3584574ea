package oci

// Repository names and tags are validated by hand-written scanners instead of regexp: they run
// on every /v2 request, and a scanner is two orders of magnitude faster, allocates nothing on success and
// can say exactly which byte is wrong. The fuzz tests check both scanners against the regexps
// they replace.

const (
	// MinRepositoryNameLength and MaxRepositoryNameLength are ECR's RepositoryName limits.
	MinRepositoryNameLength = 2
	MaxRepositoryNameLength = 256
	// MaxTagLength is the OCI distribution-spec tag limit (1 + 127 characters).
	MaxTagLength = 128
	// accountIDLength is the length of an AWS account id.
	accountIDLength = 12
)

// ValidateRepositoryName reports whether name is a valid private ECR repository name: 2 to 256
// bytes that fully match
//
//	[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
//
// and whose first path component is not exactly 12 ASCII digits. That component is reserved
// because Berth addresses another account's registry as <host>/<account-id>/<name>; allowing
// such a name would make "/v2/123456789012/app/..." ambiguous. The error wraps ErrNameInvalid.
func ValidateRepositoryName(name string) error {
	if n := len(name); n < MinRepositoryNameLength || n > MaxRepositoryNameLength {
		return newError(ErrNameInvalid, "name must be %d to %d characters long, got %d",
			MinRepositoryNameLength, MaxRepositoryNameLength, n)
	}
	if err := scanRepositoryName(name); err != nil {
		return err
	}
	if hasAccountIDPrefix(name) {
		return newError(ErrNameInvalid,
			"first path component %q is reserved: 12 digits address another account's registry "+
				"(<host>/<account-id>/<name>)", name[:accountIDLength])
	}
	return nil
}

// scanRepositoryName checks the ECR name pattern. The pattern is equivalent to: runs of
// [a-z0-9] separated by exactly one of ".", "_", "__", "-+" or "/", with no separator at either
// end, so the scanner only needs to know whether the previous byte was a letter or digit.
func scanRepositoryName(name string) error {
	afterAlnum := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isLowerAlnum(c) {
			afterAlnum = true
			continue
		}
		if !isNameSeparator(c) {
			return invalidNameByte(name, i)
		}
		if !afterAlnum {
			return misplacedSeparator(name, i)
		}
		switch c {
		case '_': // "_" or "__", never "___"
			if i+1 < len(name) && name[i+1] == '_' {
				i++
			}
		case '-': // any run of hyphens is one separator
			for i+1 < len(name) && name[i+1] == '-' {
				i++
			}
		}
		afterAlnum = false
	}
	if !afterAlnum {
		return newError(ErrNameInvalid, "name must end with a lowercase letter or digit, not %s",
			quoteByte(name[len(name)-1]))
	}
	return nil
}

func invalidNameByte(name string, i int) error {
	c := name[i]
	if c >= 'A' && c <= 'Z' {
		return newError(ErrNameInvalid,
			"uppercase letter %s at offset %d: repository names must be lowercase", quoteByte(c), i)
	}
	return newError(ErrNameInvalid,
		"%s at offset %d is not allowed: use lowercase letters, digits, '.', '_', '-' and '/'",
		quoteByte(c), i)
}

func misplacedSeparator(name string, i int) error {
	c := name[i]
	switch {
	case i == 0:
		return newError(ErrNameInvalid, "name must start with a lowercase letter or digit, not %s",
			quoteByte(c))
	case c == '/' && name[i-1] == '/':
		return newError(ErrNameInvalid, "empty path component (\"//\") at offset %d", i-1)
	case name[i-1] == '/':
		return newError(ErrNameInvalid,
			"path component at offset %d must start with a lowercase letter or digit, not %s",
			i, quoteByte(c))
	default:
		return newError(ErrNameInvalid,
			"%s at offset %d cannot follow %s: separators ('.', '_', '__', '-', '/') must sit "+
				"between lowercase letters or digits", quoteByte(c), i, quoteByte(name[i-1]))
	}
}

// hasAccountIDPrefix reports whether the first path component of name is an account id.
func hasAccountIDPrefix(name string) bool {
	if len(name) < accountIDLength || !IsAccountID(name[:accountIDLength]) {
		return false
	}
	return len(name) == accountIDLength || name[accountIDLength] == '/'
}

// IsAccountID reports whether s is exactly 12 ASCII digits, the form of an AWS account id.
// Front ends use it to tell <host>/<account-id>/<name> from <host>/<name>.
func IsAccountID(s string) bool {
	if len(s) != accountIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ValidateTag reports whether tag matches the OCI distribution-spec tag grammar
// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. The /v2 API accepts nothing else, and because a tag can
// never contain ':' it can never be mistaken for a digest. The error wraps ErrTagInvalid.
func ValidateTag(tag string) error {
	switch {
	case tag == "":
		return newError(ErrTagInvalid, "tag must not be empty")
	case len(tag) > MaxTagLength:
		return newError(ErrTagInvalid, "tag must be at most %d characters long, got %d",
			MaxTagLength, len(tag))
	case !isAlnum(tag[0]) && tag[0] != '_':
		return newError(ErrTagInvalid, "tag must start with a letter, digit or '_', not %s",
			quoteByte(tag[0]))
	}
	for i := 1; i < len(tag); i++ {
		if c := tag[i]; !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return newError(ErrTagInvalid,
				"%s at offset %d is not allowed: use letters, digits, '_', '.' and '-'",
				quoteByte(c), i)
		}
	}
	return nil
}

func isLowerAlnum(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') }

func isAlnum(c byte) bool { return isLowerAlnum(c) || (c >= 'A' && c <= 'Z') }

func isNameSeparator(c byte) bool { return c == '.' || c == '_' || c == '-' || c == '/' }

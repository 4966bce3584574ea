package oci

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// The regexps the scanners replace, used as oracles here and in the fuzz tests.
var (
	repositoryNameOracle = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	accountIDOracle      = regexp.MustCompile(`^[0-9]{12}$`)
	tagOracle            = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

func oracleValidName(name string) bool {
	first, _, _ := strings.Cut(name, "/")
	return len(name) >= 2 && len(name) <= 256 && repositoryNameOracle.MatchString(name) &&
		!accountIDOracle.MatchString(first)
}

// repositoryNameCases also seed FuzzValidateRepositoryName.
var repositoryNameCases = []struct {
	name string
	msg  string // "" means valid
}{
	{"ab", ""},
	{"a1", ""},
	{"42", ""},
	{"nginx", ""},
	{"demo/app", ""},
	{"docker-hub/library/nginx", ""},
	{"my.app", ""},
	{"my_app", ""},
	{"my__app", ""},
	{"my-app", ""},
	{"my---app", ""},
	{"a.b_c__d-e--f/g.h", ""},
	{"1team/2app", ""},
	{"team/123456789012", ""}, // only the first component is reserved
	{"1234567890123/app", ""}, // 13 digits is not an account id
	{"12345678901/app", ""},   // 11 digits neither
	{"123456789012a/app", ""}, // nor 12 digits plus a letter
	{"12345678901a", ""},      // 12 characters, not all digits
	{"a" + strings.Repeat("b", 255), ""},
	{strings.Repeat("ab/", 85) + "a", ""},

	{"", "must be 2 to 256 characters long, got 0"},
	{"a", "must be 2 to 256 characters long, got 1"},
	{"/", "must be 2 to 256 characters long, got 1"},
	{strings.Repeat("a", 257), "got 257"},
	{"123456789012", `first path component "123456789012" is reserved`},
	{"123456789012/app", `first path component "123456789012" is reserved`},
	{"000000000000/a/b", "reserved"},
	{"Nginx", "uppercase letter 'N' at offset 0: repository names must be lowercase"},
	{"demo/App", "uppercase letter 'A' at offset 5"},
	{"my app", "' ' at offset 2 is not allowed"},
	{"app:latest", "':' at offset 3 is not allowed"},
	{"app@sha256", "'@' at offset 3 is not allowed"},
	{"caf\xc3\xa9", "byte 0xc3 at offset 3 is not allowed"},
	{"a\x00b", "byte 0x00 at offset 1"},
	{"a\\b", `'\\' at offset 1 is not allowed`},
	{"-app", "name must start with a lowercase letter or digit, not '-'"},
	{".app", "must start with a lowercase letter or digit, not '.'"},
	{"_app", "must start with a lowercase letter or digit, not '_'"},
	{"/app", "must start with a lowercase letter or digit, not '/'"},
	{"app-", "name must end with a lowercase letter or digit, not '-'"},
	{"app.", "must end with a lowercase letter or digit, not '.'"},
	{"app/", "must end with a lowercase letter or digit, not '/'"},
	{"app__", "not '_'"},
	{"demo//app", `empty path component ("//") at offset 4`},
	{"demo/.app", "path component at offset 5 must start with a lowercase letter or digit, not '.'"},
	{"demo/-app", "path component at offset 5 must start"},
	{"my._app", "'_' at offset 3 cannot follow '.'"},
	{"my_.app", "'.' at offset 3 cannot follow '_'"},
	{"my..app", "'.' at offset 3 cannot follow '.'"},
	{"my___app", "'_' at offset 4 cannot follow '_'"},
	{"my-_app", "'_' at offset 3 cannot follow '-'"},
	{"my_-app", "'-' at offset 3 cannot follow '_'"},
	{"my-.app", "'.' at offset 3 cannot follow '-'"},
	{"my./app", "'/' at offset 3 cannot follow '.'"},
	{"my-/app", "'/' at offset 3 cannot follow '-'"},
}

func TestValidateRepositoryName(t *testing.T) {
	t.Parallel()
	for _, tt := range repositoryNameCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateRepositoryName(tt.name)
			if oracle := oracleValidName(tt.name); oracle != (err == nil) {
				t.Errorf("ValidateRepositoryName(%q) = %v; the regexp oracle says valid=%v", tt.name, err, oracle)
			}
			if tt.msg == "" {
				if err != nil {
					t.Errorf("ValidateRepositoryName(%q) = %v; want nil", tt.name, err)
				}
				return
			}
			if !errors.Is(err, ErrNameInvalid) {
				t.Fatalf("ValidateRepositoryName(%q) = %v; want ErrNameInvalid", tt.name, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("ValidateRepositoryName(%q) = %q; want it to contain %q", tt.name, err, tt.msg)
			}
		})
	}
}

func TestIsAccountID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{"123456789012", true},
		{"000000000000", true},
		{"12345678901", false},
		{"1234567890123", false},
		{"12345678901a", false},
		{"１23456789012", false}, // full-width digit: not ASCII
		{" 23456789012", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := IsAccountID(tt.in); got != tt.want {
				t.Errorf("IsAccountID(%q) = %v; want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestValidateTag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tag string
		msg string // "" means valid
	}{
		{"latest", ""},
		{"v1.2.3", ""},
		{"1.0", ""},
		{"_private", ""},
		{"UPPER-case_Mixed.9", ""},
		{"sha256-" + strings.Repeat("a", 64) + ".sig", ""}, // cosign's tag scheme
		{"a", ""},
		{strings.Repeat("x", 128), ""},

		{"", "tag must not be empty"},
		{strings.Repeat("x", 129), "at most 128 characters long, got 129"},
		{".hidden", "must start with a letter, digit or '_', not '.'"},
		{"-rc1", "must start with a letter, digit or '_', not '-'"},
		{"v1:2", "':' at offset 2 is not allowed"},
		{"v1/2", "'/' at offset 2 is not allowed"},
		{"v1+build", "'+' at offset 2 is not allowed"},
		{"tag with space", "' ' at offset 3"},
		{"t\xffag", "byte 0xff at offset 1"},
		{"sha256:" + strings.Repeat("a", 64), "':' at offset 6"},
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			t.Parallel()
			err := ValidateTag(tt.tag)
			if oracle := tagOracle.MatchString(tt.tag); oracle != (err == nil) {
				t.Errorf("ValidateTag(%q) = %v; the regexp oracle says valid=%v", tt.tag, err, oracle)
			}
			if tt.msg == "" {
				if err != nil {
					t.Errorf("ValidateTag(%q) = %v; want nil", tt.tag, err)
				}
				return
			}
			if !errors.Is(err, ErrTagInvalid) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("ValidateTag(%q) = %v; want ErrTagInvalid containing %q", tt.tag, err, tt.msg)
			}
		})
	}
}

// The hot-path validators must not allocate on success. Not parallel: AllocsPerRun forbids it.
func TestValidatorsDoNotAllocate(t *testing.T) {
	checks := map[string]func(){
		"ValidateRepositoryName": func() { _ = ValidateRepositoryName("docker-hub/library/nginx__x--y.z") },
		"ValidateTag":            func() { _ = ValidateTag("v1.2.3-rc_1") },
		"ParseDigest":            func() { _, _ = ParseDigest(dCfg) },
		"ParseReference":         func() { _, _ = ParseReference(dCfg) },
		"IsAccountID":            func() { _ = IsAccountID("123456789012") },
	}
	for name, f := range checks {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s allocates %v times per call; want 0", name, n)
		}
	}
}

func BenchmarkValidateRepositoryName(b *testing.B) {
	const name = "team-a/services/payments.api__v2"
	b.Run("scanner", func(b *testing.B) {
		for b.Loop() {
			_ = ValidateRepositoryName(name)
		}
	})
	b.Run("regexp", func(b *testing.B) {
		for b.Loop() {
			_ = oracleValidName(name)
		}
	})
}

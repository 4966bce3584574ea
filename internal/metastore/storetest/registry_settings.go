package storetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

var registrySettingsCases = []testCase{
	{"RegistryPolicy", testRegistryPolicy},
	{"AccountSettings", testAccountSettings},
}

var signingKeyCases = []testCase{
	{"CreateListNewestFirst", testSigningKeysList},
	{"DeleteBefore", testSigningKeysDeleteBefore},
}

func testRegistryPolicy(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustAccount(t, s, "111111111111")
	mustAccount(t, s, "222222222222")
	const missing = "999999999999"
	wantErr(t, "GetRegistryPolicy(none)", firstErr(s.GetRegistryPolicy(ctx, "111111111111")), metastore.ErrNotFound)
	wantErr(t, "DeleteRegistryPolicy(none)", firstErr(s.DeleteRegistryPolicy(ctx, "111111111111")), metastore.ErrNotFound)
	wantErr(t, "PutRegistryPolicy(missing account)", s.PutRegistryPolicy(ctx, missing, "{}"), metastore.ErrNotFound)
	wantErr(t, "GetRegistryPolicy(missing account)", firstErr(s.GetRegistryPolicy(ctx, missing)), metastore.ErrNotFound)
	wantErr(t, "DeleteRegistryPolicy(missing account)", firstErr(s.DeleteRegistryPolicy(ctx, missing)), metastore.ErrNotFound)

	first := "{ \"Version\": \"2012-10-17\",\n\t\"Statement\": [ {\"Sid\": \"r\u00e9plication\"} ] }"
	second := `{"Version":"2012-10-17","Statement":[]}`
	wantPolicy := func(account, want string) {
		t.Helper()
		got, err := s.GetRegistryPolicy(ctx, account)
		noErr(t, "GetRegistryPolicy", err)
		if got != want {
			t.Errorf("GetRegistryPolicy(%s) = %q, want %q", account, got, want)
		}
	}
	noErr(t, "PutRegistryPolicy", s.PutRegistryPolicy(ctx, "111111111111", first))
	noErr(t, "PutRegistryPolicy(other account)", s.PutRegistryPolicy(ctx, "222222222222", second))
	wantPolicy("111111111111", first)
	noErr(t, "PutRegistryPolicy(replace)", s.PutRegistryPolicy(ctx, "111111111111", second))
	wantPolicy("111111111111", second)

	deleted, err := s.DeleteRegistryPolicy(ctx, "111111111111")
	noErr(t, "DeleteRegistryPolicy", err)
	if deleted != second {
		t.Errorf("DeleteRegistryPolicy returned %q, want %q", deleted, second)
	}
	wantErr(t, "GetRegistryPolicy(deleted)", firstErr(s.GetRegistryPolicy(ctx, "111111111111")), metastore.ErrNotFound)
	wantErr(t, "DeleteRegistryPolicy(again)", firstErr(s.DeleteRegistryPolicy(ctx, "111111111111")), metastore.ErrNotFound)
	wantPolicy("222222222222", second)
}

func testAccountSettings(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustAccount(t, s, "111111111111")
	mustAccount(t, s, "222222222222")
	const name = "BASIC_SCAN_TYPE_VERSION"
	wantErr(t, "GetAccountSetting(never put)", firstErr(s.GetAccountSetting(ctx, "111111111111", name)), metastore.ErrNotFound)
	wantErr(t, "PutAccountSetting(missing account)",
		s.PutAccountSetting(ctx, "999999999999", name, "CLAIR"), metastore.ErrNotFound)

	noErr(t, "PutAccountSetting", s.PutAccountSetting(ctx, "111111111111", name, "CLAIR"))
	noErr(t, "PutAccountSetting(other name)", s.PutAccountSetting(ctx, "111111111111", "REGISTRY_POLICY_SCOPE", "V2"))
	noErr(t, "PutAccountSetting(other account)", s.PutAccountSetting(ctx, "222222222222", name, "AWS_NATIVE"))
	noErr(t, "PutAccountSetting(empty value)", s.PutAccountSetting(ctx, "222222222222", "EMPTY", ""))
	want := func(account, name, value string) {
		t.Helper()
		got, err := s.GetAccountSetting(ctx, account, name)
		noErr(t, "GetAccountSetting("+account+", "+name+")", err)
		if got != value {
			t.Errorf("GetAccountSetting(%s, %s) = %q, want %q", account, name, got, value)
		}
	}
	want("111111111111", name, "CLAIR")
	want("111111111111", "REGISTRY_POLICY_SCOPE", "V2")
	want("222222222222", name, "AWS_NATIVE")
	want("222222222222", "EMPTY", "")

	noErr(t, "PutAccountSetting(replace)", s.PutAccountSetting(ctx, "111111111111", name, "AWS_NATIVE"))
	want("111111111111", name, "AWS_NATIVE")
	want("111111111111", "REGISTRY_POLICY_SCOPE", "V2")
	wantErr(t, "GetAccountSetting(case differs)",
		firstErr(s.GetAccountSetting(ctx, "111111111111", "basic_scan_type_version")), metastore.ErrNotFound)
	wantErr(t, "GetAccountSetting(missing account)", firstErr(s.GetAccountSetting(ctx, "999999999999", name)), metastore.ErrNotFound)
}

func testSigningKeysList(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	none, err := s.ListSigningKeys(ctx)
	noErr(t, "ListSigningKeys(empty)", err)
	if len(none) != 0 {
		t.Errorf("empty store lists %d signing keys", len(none))
	}
	secret := []byte{0, 0xff, 'k', 0}
	keys := []metastore.SigningKey{ // created out of order
		{ID: "k-2022", SecretCiphertext: []byte("b"), CreatedAt: time2},
		{ID: "k-2021", SecretCiphertext: secret, CreatedAt: time1},
		{ID: "k-now", SecretCiphertext: []byte("c")}, // CreatedAt from the store's clock
		{ID: "k-2022-tie", SecretCiphertext: []byte("d"), CreatedAt: time2},
	}
	for _, k := range keys {
		noErr(t, "CreateSigningKey "+k.ID, s.CreateSigningKey(ctx, k))
	}
	wantErr(t, "CreateSigningKey(dup)", s.CreateSigningKey(ctx, metastore.SigningKey{ID: "k-2021", SecretCiphertext: []byte("x")}),
		metastore.ErrAlreadyExists)

	got, err := s.ListSigningKeys(ctx)
	noErr(t, "ListSigningKeys", err)
	// Newest first; equal CreatedAt by descending id.
	if ids := signingKeyIDs(got); !slices.Equal(ids, []string{"k-now", "k-2022-tie", "k-2022", "k-2021"}) {
		t.Fatalf("ListSigningKeys = %v, want [k-now k-2022-tie k-2022 k-2021]", ids)
	}
	wantRecent(t, "defaulted CreatedAt", got[0].CreatedAt)
	wantTime(t, "CreatedAt", got[3].CreatedAt, time1)
	wantTime(t, "CreatedAt", got[2].CreatedAt, time2)
	if !bytes.Equal(got[3].SecretCiphertext, secret) || string(got[0].SecretCiphertext) != "c" {
		t.Errorf("secrets = %q, %q; want %q, %q", got[3].SecretCiphertext, got[0].SecretCiphertext, secret, "c")
	}
}

func testSigningKeysDeleteBefore(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	for _, k := range []metastore.SigningKey{
		{ID: "old", SecretCiphertext: []byte("1"), CreatedAt: time1},
		{ID: "edge", SecretCiphertext: []byte("2"), CreatedAt: time2},
		{ID: "new", SecretCiphertext: []byte("3"), CreatedAt: time2.Add(time.Nanosecond)},
	} {
		noErr(t, "CreateSigningKey "+k.ID, s.CreateSigningKey(ctx, k))
	}
	list := func() []string {
		t.Helper()
		ks, err := s.ListSigningKeys(ctx)
		noErr(t, "ListSigningKeys", err)
		return signingKeyIDs(ks)
	}
	noErr(t, "DeleteSigningKeysBefore(long ago)", s.DeleteSigningKeysBefore(ctx, time1.Add(-time.Hour)))
	if ids := list(); !slices.Equal(ids, []string{"new", "edge", "old"}) {
		t.Errorf("after no-op delete = %v", ids)
	}
	// Strictly before: a key created exactly at t stays.
	noErr(t, "DeleteSigningKeysBefore(time2)", s.DeleteSigningKeysBefore(ctx, time2))
	if ids := list(); !slices.Equal(ids, []string{"new", "edge"}) {
		t.Errorf("after delete before time2 = %v, want [new edge]", ids)
	}
	noErr(t, "DeleteSigningKeysBefore(time2+1ns)", s.DeleteSigningKeysBefore(ctx, time2.Add(time.Nanosecond)))
	if ids := list(); !slices.Equal(ids, []string{"new"}) {
		t.Errorf("after delete before time2+1ns = %v, want [new]", ids)
	}
	noErr(t, "DeleteSigningKeysBefore(far future)", s.DeleteSigningKeysBefore(ctx, time.Now().Add(24*time.Hour)))
	if ids := list(); len(ids) != 0 {
		t.Errorf("after deleting all = %v", ids)
	}
	// An id is free again once its key is gone.
	noErr(t, "CreateSigningKey(reused id)", s.CreateSigningKey(ctx, metastore.SigningKey{ID: "old", SecretCiphertext: []byte("4")}))
}

func signingKeyIDs(ks []metastore.SigningKey) []string {
	ids := make([]string, len(ks))
	for i, k := range ks {
		ids[i] = k.ID
	}
	return ids
}

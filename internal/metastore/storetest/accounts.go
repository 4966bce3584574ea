package storetest

import (
	"bytes"
	"testing"

	"github.com/berth-registry/berth/internal/metastore"
)

var accountCases = []testCase{
	{"CreateGetList", testAccountCreateGetList},
	{"AccessKeys", testAccessKeys},
	{"AccessKeyStatusAndDelete", testAccessKeyStatusAndDelete},
}

func testAccountCreateGetList(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	wantErr(t, "GetAccount(missing)", firstErr(s.GetAccount(ctx, "111111111111")), metastore.ErrNotFound)

	noErr(t, "CreateAccount", s.CreateAccount(ctx, metastore.Account{ID: "222222222222", CreatedAt: time1}))
	noErr(t, "CreateAccount", s.CreateAccount(ctx, metastore.Account{ID: "111111111111"}))
	wantErr(t, "CreateAccount(dup)", s.CreateAccount(ctx, metastore.Account{ID: "222222222222"}), metastore.ErrAlreadyExists)

	a, err := s.GetAccount(ctx, "222222222222")
	noErr(t, "GetAccount", err)
	if a.ID != "222222222222" {
		t.Errorf("ID = %q", a.ID)
	}
	wantTime(t, "CreatedAt", a.CreatedAt, time1)
	b, err := s.GetAccount(ctx, "111111111111")
	noErr(t, "GetAccount", err)
	wantRecent(t, "defaulted CreatedAt", b.CreatedAt)

	all, err := s.ListAccounts(ctx)
	noErr(t, "ListAccounts", err)
	if len(all) != 2 || all[0].ID != "111111111111" || all[1].ID != "222222222222" {
		t.Errorf("ListAccounts = %+v, want both, ordered by id", all)
	}
}

func testAccessKeys(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustAccount(t, s, "111111111111")
	mustAccount(t, s, "222222222222")
	secret := []byte{0, 1, 2, 0xff, 0}
	keys := []metastore.AccessKey{
		{ID: "AKIAROOT1", AccountID: "111111111111", SecretCiphertext: secret, Active: true, CreatedAt: time1},
		{ID: "AKIAROOT2", AccountID: "111111111111", SecretCiphertext: []byte("x"), Active: false, CreatedAt: time2},
		{ID: "AKIAALICE", AccountID: "111111111111", UserName: "alice", SecretCiphertext: []byte("y"), Active: true},
		{ID: "AKIAOTHER", AccountID: "222222222222", SecretCiphertext: []byte("z"), Active: true},
	}
	for _, k := range keys {
		noErr(t, "CreateAccessKey "+k.ID, s.CreateAccessKey(ctx, k))
	}
	wantErr(t, "CreateAccessKey(dup)", s.CreateAccessKey(ctx, keys[0]), metastore.ErrAlreadyExists)
	orphan := metastore.AccessKey{ID: "AKIAORPHAN", AccountID: "999999999999", SecretCiphertext: []byte("s")}
	wantErr(t, "CreateAccessKey(missing account)", s.CreateAccessKey(ctx, orphan), metastore.ErrNotFound)

	got, err := s.GetAccessKey(ctx, "AKIAROOT1")
	noErr(t, "GetAccessKey", err)
	if got.AccountID != "111111111111" || got.UserName != "" || !got.Active || !bytes.Equal(got.SecretCiphertext, secret) {
		t.Errorf("GetAccessKey = %+v, want %+v", got, keys[0])
	}
	wantTime(t, "CreatedAt", got.CreatedAt, time1)
	if got.UserID != "" {
		t.Errorf("root key's UserID = %q, want none", got.UserID)
	}
	alice, err := s.GetAccessKey(ctx, "AKIAALICE")
	noErr(t, "GetAccessKey(alice)", err)
	wantRecent(t, "defaulted CreatedAt", alice.CreatedAt)
	if alice.UserID != "" {
		t.Errorf("UserID of a key whose user row does not exist = %q, want none", alice.UserID)
	}
	// The key's UserID is its owner's, matched by name case-insensitively
	// as IAM does, and never another account's user of that name.
	noErr(t, "CreateUser(Alice)", s.CreateUser(ctx, metastore.User{AccountID: "111111111111", Name: "Alice", ID: "AIDAALICE00000000001", Path: "/team/"}))
	noErr(t, "CreateUser(alice, other account)", s.CreateUser(ctx, metastore.User{AccountID: "222222222222", Name: "alice", ID: "AIDAOTHER00000000001"}))
	if alice, err = s.GetAccessKey(ctx, "AKIAALICE"); err != nil || alice.UserID != "AIDAALICE00000000001" || alice.UserPath != "/team/" {
		t.Errorf("GetAccessKey(alice) = %+v, %v; want UserID AIDAALICE00000000001, UserPath /team/", alice, err)
	}
	if got, err := s.GetAccessKey(ctx, "AKIAROOT1"); err != nil || got.UserID != "" || got.UserPath != "" {
		t.Errorf("GetAccessKey(root) with users in the account = %+v, %v; want no UserID", got, err)
	}
	wantErr(t, "GetAccessKey(missing)", firstErr(s.GetAccessKey(ctx, "AKIANOPE")), metastore.ErrNotFound)

	root, err := s.ListAccessKeys(ctx, "111111111111", "")
	noErr(t, "ListAccessKeys(root)", err)
	if ids := keyIDs(root); len(ids) != 2 || ids[0] != "AKIAROOT1" || ids[1] != "AKIAROOT2" {
		t.Errorf("root keys = %v, want [AKIAROOT1 AKIAROOT2] in creation order", ids)
	}
	if root[1].Active {
		t.Error("AKIAROOT2 should be inactive")
	}
	users, err := s.ListAccessKeys(ctx, "111111111111", "alice")
	noErr(t, "ListAccessKeys(alice)", err)
	if ids := keyIDs(users); len(ids) != 1 || ids[0] != "AKIAALICE" || users[0].UserID != "AIDAALICE00000000001" {
		t.Errorf("alice keys = %v (%+v)", ids, users)
	}
	none, err := s.ListAccessKeys(ctx, "111111111111", "bob")
	noErr(t, "ListAccessKeys(bob)", err)
	if len(none) != 0 {
		t.Errorf("bob keys = %v, want none", keyIDs(none))
	}
}

func testAccessKeyStatusAndDelete(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustAccount(t, s, "111111111111")
	k := metastore.AccessKey{ID: "AKIAK", AccountID: "111111111111", SecretCiphertext: []byte("s"), Active: true}
	noErr(t, "CreateAccessKey", s.CreateAccessKey(ctx, k))

	noErr(t, "SetAccessKeyActive(false)", s.SetAccessKeyActive(ctx, "AKIAK", false))
	got, err := s.GetAccessKey(ctx, "AKIAK")
	noErr(t, "GetAccessKey", err)
	if got.Active {
		t.Error("key still active after deactivation")
	}
	noErr(t, "SetAccessKeyActive(false) again", s.SetAccessKeyActive(ctx, "AKIAK", false))
	noErr(t, "SetAccessKeyActive(true)", s.SetAccessKeyActive(ctx, "AKIAK", true))
	if got, _ = s.GetAccessKey(ctx, "AKIAK"); !got.Active {
		t.Error("key inactive after activation")
	}
	wantErr(t, "SetAccessKeyActive(missing)", s.SetAccessKeyActive(ctx, "AKIANOPE", true), metastore.ErrNotFound)

	noErr(t, "DeleteAccessKey", s.DeleteAccessKey(ctx, "AKIAK"))
	wantErr(t, "GetAccessKey(deleted)", firstErr(s.GetAccessKey(ctx, "AKIAK")), metastore.ErrNotFound)
	wantErr(t, "DeleteAccessKey(again)", s.DeleteAccessKey(ctx, "AKIAK"), metastore.ErrNotFound)
}

func keyIDs(ks []metastore.AccessKey) []string {
	ids := make([]string, len(ks))
	for i, k := range ks {
		ids[i] = k.ID
	}
	return ids
}

// firstErr drops a value and keeps the error, for one-line checks.
func firstErr[T any](_ T, err error) error { return err }

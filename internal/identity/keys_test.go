package identity_test

import (
	"regexp"
	"testing"

	"github.com/berth-registry/berth/internal/identity"
)

func TestAccessKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustUser(t, "Dev")
	f.mustUser(t, "ops")
	k1, err := f.svc.CreateAccessKey(ctx, root, "dev")
	ok(t, err)
	if !regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`).MatchString(k1.ID) || len(k1.Secret) != 40 ||
		k1.UserName != "Dev" || k1.Status != "Active" || !k1.CreatedAt.After(someday) {
		t.Fatalf("created %+v", k1)
	}
	row, err := f.store.GetAccessKey(ctx, k1.ID)
	ok(t, err)
	if string(row.SecretCiphertext) == k1.Secret {
		t.Fatal("secret stored in plaintext")
	}
	if secret, err := f.sealer.Open(row.SecretCiphertext, []byte(k1.ID)); err != nil || string(secret) != k1.Secret {
		t.Fatalf("sealed secret does not open with the key id as additional data: %v", err)
	}
	k2, err := f.svc.CreateAccessKey(ctx, root, "Dev")
	ok(t, err)
	_, err = f.svc.CreateAccessKey(ctx, root, "Dev")
	wantErr(t, err, identity.ErrLimitExceeded, "Cannot exceed quota for AccessKeysPerUser: 2")

	p, err := f.svc.ListAccessKeys(ctx, root, "dev", identity.ListOptions{MaxItems: 1})
	ok(t, err)
	if len(p.Items) != 1 || p.Items[0].ID != k1.ID || p.Items[0].Secret != "" || p.Marker == "" {
		t.Fatalf("first page = %+v", p)
	}
	p, err = f.svc.ListAccessKeys(ctx, root, "dev", identity.ListOptions{Marker: p.Marker})
	ok(t, err)
	if len(p.Items) != 1 || p.Items[0].ID != k2.ID || p.Marker != "" {
		t.Fatalf("second page = %+v", p)
	}

	ok(t, f.svc.UpdateAccessKey(ctx, root, "dev", k1.ID, "Inactive"))
	if row, _ := f.store.GetAccessKey(ctx, k1.ID); row.Active || !f.wasForgotten(k1.ID) {
		t.Fatalf("deactivated key: active=%v forgotten=%v", row.Active, f.wasForgotten(k1.ID))
	}
	ok(t, f.svc.UpdateAccessKey(ctx, root, "dev", k1.ID, "Active"))
	wantErr(t, f.svc.UpdateAccessKey(ctx, root, "dev", k1.ID, "Expired"), identity.ErrInvalidInput, "Active or Inactive")
	wantErr(t, f.svc.UpdateAccessKey(ctx, root, "dev", k1.ID, "On"), identity.ErrValidation,
		"Value 'On' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive, Expired]")
	wantErr(t, f.svc.UpdateAccessKey(ctx, root, "dev", "short", "Active"), identity.ErrValidation, "'accessKeyId'")
	// Another principal's key is not found through this user.
	wantErr(t, f.svc.UpdateAccessKey(ctx, root, "ops", k1.ID, "Inactive"), identity.ErrNoSuchEntity,
		"The Access Key with id "+k1.ID+" cannot be found.")
	wantErr(t, f.svc.DeleteAccessKey(ctx, root, "", k1.ID), identity.ErrNoSuchEntity, k1.ID)
	wantErr(t, f.svc.DeleteAccessKey(ctx, root, "dev", "AKIAAAAAAAAAAAAAAAAA"), identity.ErrNoSuchEntity, "cannot be found")
	_, err = f.svc.CreateAccessKey(ctx, root, "ghost")
	wantErr(t, err, identity.ErrNoSuchEntity, "The user with name ghost cannot be found.")
	_, err = f.svc.ListAccessKeys(ctx, root, "ghost", identity.ListOptions{})
	wantErr(t, err, identity.ErrNoSuchEntity, "ghost")

	ok(t, f.svc.DeleteAccessKey(ctx, root, "dev", k2.ID))
	if _, err := f.store.GetAccessKey(ctx, k2.ID); err == nil || !f.wasForgotten(k2.ID) {
		t.Fatalf("deleted key still stored (%v) or not forgotten", err)
	}
}

func TestRootAndSelfServiceKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *identity.Options) { o.Authorize = allowAll })
	k, err := f.svc.CreateAccessKey(ctx, root, "")
	ok(t, err)
	if k.UserName != "" {
		t.Fatalf("root key has user %q", k.UserName)
	}
	p, err := f.svc.ListAccessKeys(ctx, root, "", identity.ListOptions{})
	ok(t, err)
	if len(p.Items) != 1 || p.Items[0].ID != k.ID {
		t.Fatalf("root keys = %+v", p.Items)
	}
	f.mustUser(t, "dev")
	mine, err := f.svc.CreateAccessKey(ctx, user("dev"), "")
	ok(t, err)
	if mine.UserName != "dev" {
		t.Fatalf("self-service key belongs to %q", mine.UserName)
	}
	ok(t, f.svc.UpdateAccessKey(ctx, user("dev"), "", mine.ID, "Inactive"))
	ok(t, f.svc.DeleteAccessKey(ctx, user("dev"), "", mine.ID))
	// The root's key is not the user's.
	wantErr(t, f.svc.DeleteAccessKey(ctx, user("dev"), "", k.ID), identity.ErrNoSuchEntity, k.ID)
}

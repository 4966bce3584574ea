package identity_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/identity"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/metastore/sqlstore"
)

const acct = "123456789012"

// The whole metadata port serves the service, as app.go wires it.
var _ identity.Store = metastore.Store(nil)

var (
	root    = auth.Principal{Type: auth.TypeRoot, AccountID: acct, AccessKeyID: "AKIAROOTROOTROOTROOT"}
	someday = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	ctx     = context.Background()
)

// ecrReadOnly is an AWS-managed policy of the test catalog.
const ecrReadOnly = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"

// catalog is a ManagedCatalog held in a map.
type catalog map[string][2]string // ARN -> name, document

func (c catalog) Get(arn string) (string, string, bool) {
	e, ok := c[arn]
	return e[0], e[1], ok
}

func (c catalog) List() []string {
	var out []string
	for arn := range c {
		out = append(out, arn)
	}
	return out
}

var testCatalog = catalog{
	ecrReadOnly: {"AmazonEC2ContainerRegistryReadOnly",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:BatchGetImage"],"Resource":"*"}]}`},
	"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly": {"AmazonEC2ContainerRegistryPullOnly",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:GetDownloadUrlForLayer"],"Resource":"*"}]}`},
}

// fixture is a Service over a real SQLite store with one account.
type fixture struct {
	svc    *identity.Service
	store  *sqlstore.Store
	sealer *auth.Sealer

	mu        sync.Mutex
	forgotten []string
}

func newFixture(t *testing.T, modify ...func(*identity.Options)) *fixture {
	t.Helper()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "berth.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateAccount(ctx, metastore.Account{ID: acct, CreatedAt: someday}); err != nil {
		t.Fatal(err)
	}
	sealer, err := auth.NewSealer([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st, sealer: sealer}
	var ticks atomic.Int64 // each reading a second later, so creation order is time order
	clock := func() time.Time { return someday.Add(time.Duration(ticks.Add(1)-1) * time.Second) }
	o := identity.Options{Store: st, Sealer: sealer, Managed: testCatalog, Clock: clock,
		InvalidateKey: func(id string) {
			f.mu.Lock()
			f.forgotten = append(f.forgotten, id)
			f.mu.Unlock()
		}}
	for _, m := range modify {
		m(&o)
	}
	if f.svc, err = identity.New(o); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) wasForgotten(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range f.forgotten {
		if x == id {
			return true
		}
	}
	return false
}

// mustUser creates a user as the root.
func (f *fixture) mustUser(t *testing.T, name string) identity.User {
	t.Helper()
	u, err := f.svc.CreateUser(ctx, root, identity.CreateUserInput{UserName: name})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// wantErr checks err's kind and that its message contains msg.
func wantErr(t *testing.T, err, kind error, msg string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error = %v, want kind %v", err, kind)
	}
	if !strings.Contains(identity.Message(err), msg) {
		t.Fatalf("message = %q, want it to contain %q", identity.Message(err), msg)
	}
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func user(name string) auth.Principal {
	return auth.Principal{Type: auth.TypeIAMUser, AccountID: acct, UserName: name, AccessKeyID: "AKIAUSERUSERUSERUSER"}
}

func allowAll(context.Context, auth.Principal, string, string, string) error { return nil }

func TestNewRequiresStoreAndSealer(t *testing.T) {
	t.Parallel()
	if _, err := identity.New(identity.Options{}); err == nil {
		t.Fatal("New without Store and Sealer succeeded")
	}
}

func TestAuthorization(t *testing.T) {
	t.Parallel()
	type call struct{ action, resource, account string }
	var mu sync.Mutex
	var calls []call
	deny := errors.New("boom")
	f := newFixture(t, func(o *identity.Options) {
		o.Authorize = func(_ context.Context, who auth.Principal, action, resource, account string) error {
			mu.Lock()
			calls = append(calls, call{action, resource, account})
			mu.Unlock()
			switch who.UserName {
			case "admin":
				return nil
			case "broken":
				return deny
			}
			return identity.Denied("User: " + who.ARN() + " is not authorized to perform: " + action)
		}
	})
	_, err := f.svc.CreateUser(ctx, root, identity.CreateUserInput{UserName: "Alice", Path: "/team/"})
	ok(t, err)
	if len(calls) != 0 {
		t.Fatalf("the root in its own account was sent to Authorize: %v", calls)
	}

	_, err = f.svc.GetUser(ctx, user("admin"), "alice")
	ok(t, err)
	want := call{"iam:GetUser", "arn:aws:iam::123456789012:user/team/Alice", acct}
	if calls[len(calls)-1] != want {
		t.Fatalf("Authorize got %v, want %v", calls[len(calls)-1], want)
	}

	_, err = f.svc.GetUser(ctx, user("bob"), "alice")
	wantErr(t, err, identity.ErrAccessDenied, "arn:aws:iam::123456789012:user/bob is not authorized to perform: iam:GetUser")

	// A missing user is reported only to callers allowed to see it.
	_, err = f.svc.GetUser(ctx, user("bob"), "ghost")
	wantErr(t, err, identity.ErrAccessDenied, "not authorized")
	_, err = f.svc.GetUser(ctx, user("admin"), "ghost")
	wantErr(t, err, identity.ErrNoSuchEntity, "The user with name ghost cannot be found.")

	// An Authorize failure that is not a denial stays an internal error.
	_, err = f.svc.ListUsers(ctx, user("broken"), "", identity.ListOptions{})
	if !errors.Is(err, deny) || errors.Is(err, identity.ErrAccessDenied) {
		t.Fatalf("err = %v, want the Authorize failure itself", err)
	}
	if got := calls[len(calls)-1]; got != (call{"iam:ListUsers", "*", acct}) {
		t.Fatalf("ListUsers authorized as %v", got)
	}
}

func TestDefaultAuthorizationDeniesAllButRoot(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustUser(t, "alice")
	_, err := f.svc.CreateUser(ctx, user("alice"), identity.CreateUserInput{UserName: "carol"})
	wantErr(t, err, identity.ErrAccessDenied,
		"User: arn:aws:iam::123456789012:user/alice is not authorized to perform: iam:CreateUser on resource: "+
			"arn:aws:iam::123456789012:user/carol because no identity-based policy allows the iam:CreateUser action")
	other := auth.Principal{Type: auth.TypeRoot, AccountID: "210987654321"}
	_, err = f.svc.GetPolicy(ctx, other, "arn:aws:iam::123456789012:policy/p")
	wantErr(t, err, identity.ErrAccessDenied, "arn:aws:iam::210987654321:root is not authorized")
	_, err = f.svc.ListUsers(ctx, auth.Principal{Type: auth.TypeAnonymous}, "", identity.ListOptions{})
	wantErr(t, err, identity.ErrAccessDenied, "not authorized")
}

func TestCallerIdentity(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id, err := f.svc.CallerIdentity(ctx, root)
	ok(t, err)
	if id != (identity.CallerIdentity{Account: acct, ARN: "arn:aws:iam::123456789012:root", UserID: acct}) {
		t.Fatalf("root identity = %+v", id)
	}
	u, err := f.svc.CreateUser(ctx, root, identity.CreateUserInput{UserName: "Dev", Path: "/eng/"})
	ok(t, err)
	id, err = f.svc.CallerIdentity(ctx, user("dev"))
	ok(t, err)
	if id != (identity.CallerIdentity{Account: acct, ARN: "arn:aws:iam::123456789012:user/eng/Dev", UserID: u.ID}) {
		t.Fatalf("user identity = %+v", id)
	}
	_, err = f.svc.CallerIdentity(ctx, user("gone"))
	wantErr(t, err, identity.ErrNoSuchEntity, "gone")
}

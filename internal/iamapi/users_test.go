package iamapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.root()
	out := must[*iam.CreateUserOutput](t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("Alice"),
		Path: aws.String("/team/"), Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}))
	u := out.User
	if aws.ToString(u.UserName) != "Alice" || aws.ToString(u.Path) != "/team/" || len(aws.ToString(u.UserId)) != 20 ||
		aws.ToString(u.Arn) != "arn:aws:iam::123456789012:user/team/Alice" || u.CreateDate == nil || len(u.Tags) != 1 {
		t.Fatalf("CreateUser = %+v", u)
	}
	got := must[*iam.GetUserOutput](t)(c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})).User
	if aws.ToString(got.UserId) != aws.ToString(u.UserId) || !got.CreateDate.Equal(*u.CreateDate) {
		t.Fatalf("GetUser = %+v", got)
	}
	rootUser := must[*iam.GetUserOutput](t)(c.GetUser(ctx, &iam.GetUserInput{})).User
	if aws.ToString(rootUser.Arn) != "arn:aws:iam::123456789012:root" || aws.ToString(rootUser.UserId) != acct {
		t.Fatalf("GetUser of the root = %+v", rootUser)
	}

	must[*iam.TagUserOutput](t)(c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("Alice"),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}, {Key: aws.String("Env"), Value: aws.String("dev")}}}))
	got = must[*iam.GetUserOutput](t)(c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})).User
	if fmt.Sprint(tagPairs(got.Tags)) != "[env=dev team=a]" {
		t.Fatalf("tags = %v", tagPairs(got.Tags))
	}
	must[*iam.UntagUserOutput](t)(c.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String("Alice"), TagKeys: []string{"ENV"}}))
	got = must[*iam.GetUserOutput](t)(c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})).User
	if fmt.Sprint(tagPairs(got.Tags)) != "[team=a]" {
		t.Fatalf("tags after untag = %v", tagPairs(got.Tags))
	}

	for _, name := range []string{"bob", "carol", "dave"} {
		must[*iam.CreateUserOutput](t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}))
	}
	var names []string
	pages := 0
	for p := iam.NewListUsersPaginator(c, &iam.ListUsersInput{MaxItems: aws.Int32(3)}); p.HasMorePages(); pages++ {
		for _, u := range must[*iam.ListUsersOutput](t)(p.NextPage(ctx)).Users {
			names = append(names, aws.ToString(u.UserName))
			if u.Tags != nil {
				t.Errorf("ListUsers returned tags for %s; IAM does not", aws.ToString(u.UserName))
			}
		}
	}
	if fmt.Sprint(names) != "[Alice bob carol dave]" || pages != 2 {
		t.Fatalf("listed %v in %d pages", names, pages)
	}
	team := must[*iam.ListUsersOutput](t)(c.ListUsers(ctx, &iam.ListUsersInput{PathPrefix: aws.String("/team")}))
	if len(team.Users) != 1 || team.IsTruncated {
		t.Fatalf("under /team: %+v", team)
	}

	must[*iam.DeleteUserOutput](t)(c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("bob")}))
	_, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("bob")})
	wantAPIError(t, err, "NoSuchEntity", http.StatusNotFound)
	wantType[*types.NoSuchEntityException](t, err)
}

func TestUserErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.root()
	must[*iam.CreateUserOutput](t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u")}))
	must[*iam.CreateAccessKeyOutput](t)(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("u")}))

	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("U")})
	wantAPIError(t, err, "EntityAlreadyExists", http.StatusConflict)
	wantType[*types.EntityAlreadyExistsException](t, err)

	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("u")})
	wantAPIError(t, err, "DeleteConflict", http.StatusConflict)
	wantType[*types.DeleteConflictException](t, err)

	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("no spaces")})
	wantAPIError(t, err, "ValidationError", http.StatusBadRequest)

	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("x"),
		Tags: []types.Tag{{Key: aws.String("aws:reserved"), Value: aws.String("v")}}})
	wantAPIError(t, err, "InvalidInput", http.StatusBadRequest)
	wantType[*types.InvalidInputException](t, err)

	_, err = c.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(0)})
	wantAPIError(t, err, "ValidationError", http.StatusBadRequest)
	_, err = c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("ghost"), Tags: []types.Tag{}})
	wantAPIError(t, err, "NoSuchEntity", http.StatusNotFound)
}

func TestAccessKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.root()
	u := must[*iam.CreateUserOutput](t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ci"),
		Path: aws.String("/bots/")})).User
	k := must[*iam.CreateAccessKeyOutput](t)(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ci")})).AccessKey
	id, secret := aws.ToString(k.AccessKeyId), aws.ToString(k.SecretAccessKey)
	if len(id) != 20 || len(secret) != 40 || k.Status != types.StatusTypeActive || aws.ToString(k.UserName) != "ci" {
		t.Fatalf("CreateAccessKey = %+v", k)
	}

	// The new key works at once and acts as the user.
	me := must[*sts.GetCallerIdentityOutput](t)(e.sts(id, secret).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if aws.ToString(me.Arn) != "arn:aws:iam::123456789012:user/bots/ci" || aws.ToString(me.Account) != acct ||
		aws.ToString(me.UserId) != aws.ToString(u.UserId) {
		t.Fatalf("GetCallerIdentity = %+v", me)
	}
	rootMe := must[*sts.GetCallerIdentityOutput](t)(e.sts(e.rootID, e.rootSecret).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if aws.ToString(rootMe.Arn) != "arn:aws:iam::123456789012:root" || aws.ToString(rootMe.UserId) != acct {
		t.Fatalf("GetCallerIdentity of the root = %+v", rootMe)
	}
	// Without a policy engine wired, a user may do nothing in IAM.
	_, err := e.iam(id, secret).ListUsers(ctx, &iam.ListUsersInput{})
	wantAPIError(t, err, "AccessDenied", http.StatusForbidden)

	k2 := must[*iam.CreateAccessKeyOutput](t)(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ci")})).AccessKey
	_, err = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ci")})
	wantAPIError(t, err, "LimitExceeded", http.StatusConflict)
	wantType[*types.LimitExceededException](t, err)

	keys := must[*iam.ListAccessKeysOutput](t)(c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("ci")}))
	if len(keys.AccessKeyMetadata) != 2 || keys.IsTruncated {
		t.Fatalf("ListAccessKeys = %+v", keys)
	}
	rootKeys := must[*iam.ListAccessKeysOutput](t)(c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{}))
	if len(rootKeys.AccessKeyMetadata) != 1 || aws.ToString(rootKeys.AccessKeyMetadata[0].AccessKeyId) != e.rootID {
		t.Fatalf("root keys = %+v", rootKeys)
	}

	// Deactivating refuses the key at once (the cache would keep it an hour).
	must[*iam.UpdateAccessKeyOutput](t)(c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("ci"),
		AccessKeyId: aws.String(id), Status: types.StatusTypeInactive}))
	_, err = e.sts(id, secret).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "InvalidClientTokenId", http.StatusForbidden)
	keys = must[*iam.ListAccessKeysOutput](t)(c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("ci"), MaxItems: aws.Int32(1)}))
	if keys.AccessKeyMetadata[0].Status != types.StatusTypeInactive || !keys.IsTruncated || keys.Marker == nil {
		t.Fatalf("first page = %+v", keys)
	}
	must[*iam.UpdateAccessKeyOutput](t)(c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("ci"),
		AccessKeyId: aws.String(id), Status: types.StatusTypeActive}))
	must[*sts.GetCallerIdentityOutput](t)(e.sts(id, secret).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))

	must[*iam.DeleteAccessKeyOutput](t)(c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("ci"), AccessKeyId: aws.String(id)}))
	_, err = e.sts(id, secret).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "InvalidClientTokenId", http.StatusForbidden)
	_, err = c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("ci"), AccessKeyId: aws.String(id)})
	wantAPIError(t, err, "NoSuchEntity", http.StatusNotFound)
	_, err = c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("ci"),
		AccessKeyId: k2.AccessKeyId, Status: types.StatusTypeExpired})
	wantAPIError(t, err, "InvalidInput", http.StatusBadRequest)
}

func tagPairs(tags []types.Tag) []string {
	var out []string
	for _, t := range tags {
		out = append(out, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
	}
	return out
}

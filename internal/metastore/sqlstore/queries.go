package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/berth-registry/berth/internal/metastore"
)

// Column lists shared by the SELECTs and their scan functions.
const (
	accountCols = "id, created_at"
	// accessKeyCols are read from access_keys k joined with the owner's row
	// in iam_users u (accessKeyFrom), for the user's unique id and path.
	accessKeyCols = "k.id, k.account_id, k.user_name, k.secret_ciphertext, k.active, k.created_at, coalesce(u.id, ''), coalesce(u.path, '')"
	accessKeyFrom = " FROM access_keys k LEFT JOIN iam_users u" +
		" ON k.user_name <> '' AND u.account_id = k.account_id AND u.name_key = lower(k.user_name)"
	repositoryCols = "id, account_id, name, created_at, image_tag_mutability, scan_on_push, encryption_type, kms_key," +
		" tag_mutability_exclusions"
	manifestCols = "repository_id, digest, media_type, artifact_type, subject_digest, annotations, size, body, image_size, pushed_at," +
		" image_status"
	manifestColsM = "m.repository_id, m.digest, m.media_type, m.artifact_type, m.subject_digest, m.annotations, m.size, m.body," +
		" m.image_size, m.pushed_at, m.image_status"
	uploadCols     = "id, repository_id, byte_offset, hash_state, algorithm, store_state, created_at, updated_at, parts, last_part_size, small_part"
	signingKeyCols = "id, secret_ciphertext, created_at"
	userCols       = "account_id, name, name_key, id, path, created_at"
	// userTagColsU are a user's columns followed by one of its tags (NULLs
	// for a user without tags), from users u LEFT JOIN iam_user_tags t.
	userTagColsU = "u.account_id, u.name, u.id, u.path, u.created_at, t.key, t.value"
	// policyColsP are a managed policy's columns and its attachment count.
	policyColsP = "p.account_id, p.name, p.id, p.path, p.description, p.document, p.created_at, p.updated_at," +
		" (SELECT count(*) FROM iam_user_policy_attachments a WHERE a.account_id = p.account_id AND a.policy_key = p.arn_key)"
	// joinUserTags joins each user u to its tags t.
	joinUserTags = " LEFT JOIN iam_user_tags t ON t.account_id = u.account_id AND t.user_key = u.name_key"
	// imageColsM are a manifest's Image columns (never the body) and its tag
	// names joined by ',' in no particular order (scanImage splits and sorts
	// them). ',' cannot occur in a tag: tags match
	// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}, checked by the caller (package oci).
	imageColsM = "m.digest, m.media_type, m.artifact_type, m.subject_digest, m.size, m.image_size, m.pushed_at," +
		" m.image_status, m.last_pulled_at, m.last_archived_at, m.last_activated_at," +
		" (SELECT string_agg(t.name, ',') FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)"
	// isTaggedM is true when manifest m has a tag.
	isTaggedM = "EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)"
)

// queries holds every statement, rendered once for the store's dialect.
type queries struct {
	insertAccount, getAccount, listAccounts                    string
	insertAccessKey, getAccessKey, listAccessKeys              string
	setAccessKeyActive, deleteAccessKey                        string
	insertRepository, getRepository, listRepositories          string
	repositoryExists, repositoryHasManifest, deleteRepository  string
	blobSizeAny, insertBlob, linkBlob, blobSize, unlinkBlob    string
	blobHolders                                                string
	insertManifest, insertReference, upsertTag, manifestExists string
	getManifest, getManifestByTag, resolveTag, manifestIsChild string
	deleteManifest, deleteTag, listTags, referrers             string
	insertUpload, getUpload, updateUpload, uploadOffset        string
	deleteUpload, expiredUploads                               string
	listImagesAny, listImagesTagged, listImagesUntagged        string
	updateRepositorySettings, listResourceTags                 string
	upsertResourceTag, deleteResourceTag, countResourceTags    string
	getRepositoryPolicy, setRepositoryPolicy                   string
	deleteRepositoryPolicy                                     string
	getRegistryPolicy, putRegistryPolicy, deleteRegistryPolicy string
	getAccountSetting, putAccountSetting                       string
	insertSigningKey, listSigningKeys, deleteSigningKeysBefore string
	deleteAccount                                              string
	insertUser, getUser, listUsers, userExists, userInUse      string
	deleteUser, upsertUserTag, deleteUserTag, countUserTags    string
	putUserPolicy, getUserPolicy, listUserPolicies             string
	deleteUserPolicy                                           string
	insertPolicy, getPolicy, listPolicies, policyARNKey        string
	policyAttached, deletePolicy, policyARNExists              string
	attachPolicy, detachPolicy, listAttachedPolicies           string
	identityPolicies                                           string
	migrationApplied, insertMigration, listMigrations          string
	// getImagesPrefix is GetImages's query up to "IN (": the store appends
	// one placeholder per digest and ")" and rebinds the whole at run time.
	getImagesPrefix string
}

func newQueries(d dialect) queries {
	q := queries{
		getAccount:      "SELECT " + accountCols + " FROM accounts WHERE id = ?",
		listAccounts:    "SELECT " + accountCols + " FROM accounts ORDER BY id",
		getAccessKey:    "SELECT " + accessKeyCols + accessKeyFrom + " WHERE k.id = ?",
		listAccessKeys:  "SELECT " + accessKeyCols + accessKeyFrom + " WHERE k.account_id = ? AND k.user_name = ? ORDER BY k.created_at, k.id",
		deleteAccessKey: "DELETE FROM access_keys WHERE id = ?",

		setAccessKeyActive: "UPDATE access_keys SET active = ? WHERE id = ?",

		insertRepository: "INSERT INTO repositories (account_id, name, created_at, image_tag_mutability," +
			" scan_on_push, encryption_type, kms_key, tag_mutability_exclusions) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
		getRepository:         "SELECT " + repositoryCols + " FROM repositories WHERE account_id = ? AND name = ?",
		listRepositories:      "SELECT " + repositoryCols + " FROM repositories WHERE account_id = ? AND name > ? ORDER BY name LIMIT ?",
		repositoryExists:      "SELECT 1 FROM repositories WHERE id = ?",
		repositoryHasManifest: "SELECT 1 FROM manifests WHERE repository_id = ? LIMIT 1",
		deleteRepository:      "DELETE FROM repositories WHERE id = ?",

		blobSizeAny: "SELECT size, deleting_at FROM blobs WHERE digest = ?",
		blobSize: "SELECT b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest" +
			" WHERE rb.repository_id = ? AND rb.digest = ?",
		unlinkBlob: "DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?",
		blobHolders: "SELECT r.name FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id" +
			" WHERE rb.digest = ? AND r.account_id = ? ORDER BY r.name LIMIT ?",

		manifestExists: "SELECT 1 FROM manifests WHERE repository_id = ? AND digest = ?",
		getManifest:    "SELECT " + manifestCols + " FROM manifests WHERE repository_id = ? AND digest = ?",
		getManifestByTag: "SELECT " + manifestColsM + " FROM tags t JOIN manifests m" +
			" ON m.repository_id = t.repository_id AND m.digest = t.digest WHERE t.repository_id = ? AND t.name = ?",
		resolveTag: "SELECT digest FROM tags WHERE repository_id = ? AND name = ?",
		manifestIsChild: "SELECT 1 FROM manifest_references WHERE repository_id = ? AND ref_digest = ?" +
			" AND kind = 'manifest' AND manifest_digest <> ? LIMIT 1",
		deleteManifest: "DELETE FROM manifests WHERE repository_id = ? AND digest = ?",
		deleteTag:      "DELETE FROM tags WHERE repository_id = ? AND name = ?",
		listTags:       "SELECT name, digest, updated_at FROM tags WHERE repository_id = ? AND name > ? ORDER BY name LIMIT ?",
		referrers: "SELECT " + manifestCols + " FROM manifests WHERE repository_id = ? AND subject_digest = ?" +
			" AND (? = '' OR artifact_type = ?) AND digest > ? ORDER BY digest LIMIT ?",

		getUpload: "SELECT " + uploadCols + " FROM uploads WHERE repository_id = ? AND id = ?",
		updateUpload: "UPDATE uploads SET byte_offset = ?, hash_state = ?, store_state = ?, updated_at = ?," +
			" parts = ?, last_part_size = ?, small_part = ? WHERE repository_id = ? AND id = ? AND byte_offset = ?",
		uploadOffset:   "SELECT byte_offset FROM uploads WHERE repository_id = ? AND id = ?",
		deleteUpload:   "DELETE FROM uploads WHERE id = ?",
		expiredUploads: "SELECT " + uploadCols + " FROM uploads WHERE updated_at < ? ORDER BY updated_at, id LIMIT ?",

		// ACTIVE images, ECR's default; storage.go renders the other
		// image-status filters.
		listImagesAny:      listImagesSQL(metastore.TagStatusAny, metastore.ImageActive),
		listImagesTagged:   listImagesSQL(metastore.TagStatusTagged, metastore.ImageActive),
		listImagesUntagged: listImagesSQL(metastore.TagStatusUntagged, metastore.ImageActive),
		getImagesPrefix:    "SELECT " + imageColsM + " FROM manifests m WHERE m.repository_id = ? AND m.digest IN (",

		updateRepositorySettings: "UPDATE repositories SET image_tag_mutability = ?, scan_on_push = ?," +
			" tag_mutability_exclusions = ? WHERE id = ?",
		// One row of NULLs for a repository without tags, none for a missing one.
		listResourceTags: "SELECT t.key, t.value FROM repositories r LEFT JOIN repository_resource_tags t" +
			" ON t.repository_id = r.id WHERE r.id = ? ORDER BY t.key",
		deleteResourceTag:      "DELETE FROM repository_resource_tags WHERE repository_id = ? AND key = ?",
		countResourceTags:      "SELECT count(*) FROM repository_resource_tags WHERE repository_id = ?",
		getRepositoryPolicy:    "SELECT policy_text FROM repository_policies WHERE repository_id = ?",
		deleteRepositoryPolicy: "DELETE FROM repository_policies WHERE repository_id = ? RETURNING policy_text",
		getRegistryPolicy:      "SELECT policy_text FROM registry_policies WHERE account_id = ?",
		deleteRegistryPolicy:   "DELETE FROM registry_policies WHERE account_id = ? RETURNING policy_text",
		getAccountSetting:      "SELECT value FROM account_settings WHERE account_id = ? AND name = ?",

		listSigningKeys:         "SELECT " + signingKeyCols + " FROM signing_keys ORDER BY created_at DESC, id DESC",
		deleteSigningKeysBefore: "DELETE FROM signing_keys WHERE created_at < ?",

		deleteAccount: "DELETE FROM accounts WHERE id = ?",

		getUser: "SELECT " + userTagColsU + " FROM iam_users u" + joinUserTags +
			" WHERE u.account_id = ? AND u.name_key = ? ORDER BY t.key",
		listUsers: "SELECT " + userTagColsU + " FROM (SELECT " + userCols + " FROM iam_users WHERE account_id = ? AND name > ?" +
			" ORDER BY name LIMIT ?) u" + joinUserTags + " ORDER BY u.name, t.key",
		userExists: "SELECT 1 FROM iam_users WHERE account_id = ? AND name_key = ?",
		// One row for an existing user: has access keys, inline policies,
		// attachments. Every subquery takes (account, user key) as
		// parameters: correlated, SQLite would not use the lower() index.
		userInUse: "SELECT" +
			" EXISTS (SELECT 1 FROM access_keys WHERE account_id = ? AND lower(user_name) = ?)," +
			" EXISTS (SELECT 1 FROM iam_inline_policies WHERE account_id = ? AND user_key = ?)," +
			" EXISTS (SELECT 1 FROM iam_user_policy_attachments WHERE account_id = ? AND user_key = ?)" +
			" FROM iam_users WHERE account_id = ? AND name_key = ?",
		deleteUser:    "DELETE FROM iam_users WHERE account_id = ? AND name_key = ?",
		deleteUserTag: "DELETE FROM iam_user_tags WHERE account_id = ? AND user_key = ? AND key = ?",
		countUserTags: "SELECT count(*) FROM iam_user_tags WHERE account_id = ? AND user_key = ?",

		getUserPolicy: "SELECT name, document FROM iam_inline_policies WHERE account_id = ? AND user_key = ? AND name_key = ?",
		// One row of NULL for a user without policies, none for a missing one.
		listUserPolicies: "SELECT p.name FROM iam_users u LEFT JOIN iam_inline_policies p" +
			" ON p.account_id = u.account_id AND p.user_key = u.name_key WHERE u.account_id = ? AND u.name_key = ? ORDER BY p.name",
		deleteUserPolicy: "DELETE FROM iam_inline_policies WHERE account_id = ? AND user_key = ? AND name_key = ?",

		getPolicy:       "SELECT " + policyColsP + " FROM iam_managed_policies p WHERE p.account_id = ? AND p.name_key = ?",
		listPolicies:    "SELECT " + policyColsP + " FROM iam_managed_policies p WHERE p.account_id = ? AND p.name > ? ORDER BY p.name LIMIT ?",
		policyARNKey:    "SELECT arn_key FROM iam_managed_policies WHERE account_id = ? AND name_key = ?",
		policyAttached:  "SELECT 1 FROM iam_user_policy_attachments WHERE account_id = ? AND policy_key = ? LIMIT 1",
		deletePolicy:    "DELETE FROM iam_managed_policies WHERE account_id = ? AND name_key = ?",
		policyARNExists: "SELECT 1 FROM iam_managed_policies WHERE account_id = ? AND arn_key = ?",

		detachPolicy: "DELETE FROM iam_user_policy_attachments WHERE account_id = ? AND user_key = ? AND policy_key = ?",
		// One row of NULL for a user without attachments, none for a missing one.
		listAttachedPolicies: "SELECT a.policy_arn FROM iam_users u LEFT JOIN iam_user_policy_attachments a" +
			" ON a.account_id = u.account_id AND a.user_key = u.name_key WHERE u.account_id = ? AND u.name_key = ? ORDER BY a.policy_arn",
		// Rows of (document, NULL) for inline and customer-managed policies
		// and (NULL, ARN) for AWS-managed ones; an attachment naming no
		// policy of the account that is not AWS-managed yields nothing.
		identityPolicies: "SELECT document, NULL FROM iam_inline_policies WHERE account_id = ? AND user_key = ?" +
			" UNION ALL SELECT m.document, CASE WHEN m.document IS NULL THEN a.policy_arn END" +
			" FROM iam_user_policy_attachments a LEFT JOIN iam_managed_policies m" +
			" ON m.arn_key = a.policy_key AND m.account_id = a.account_id" +
			" WHERE a.account_id = ? AND a.user_key = ?" +
			" AND (m.document IS NOT NULL OR a.policy_key LIKE '" + metastore.AWSManagedPolicyPrefix + "%')", // lower case already

		migrationApplied: "SELECT 1 FROM schema_migrations WHERE version = ?",
		insertMigration:  "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		listMigrations:   "SELECT version FROM schema_migrations ORDER BY version",
	}
	q.insertAccount = insertSQL("accounts", []string{"id", "created_at"})
	q.insertAccessKey = insertSQL("access_keys", []string{"id", "account_id", "user_name", "secret_ciphertext", "active", "created_at"})
	q.insertBlob = d.insertIgnore("blobs", []string{"digest", "size", "created_at"}, []string{"digest"})
	q.linkBlob = d.upsert("repository_blobs", []string{"repository_id", "digest", "linked_at"},
		[]string{"repository_id", "digest"}, []string{"linked_at"})
	q.insertManifest = d.insertIgnore("manifests", []string{"repository_id", "digest", "media_type", "artifact_type",
		"subject_digest", "annotations", "size", "body", "image_size", "pushed_at"}, []string{"repository_id", "digest"})
	q.insertReference = d.insertIgnore("manifest_references", []string{"repository_id", "manifest_digest", "kind", "ref_digest"},
		[]string{"repository_id", "manifest_digest", "kind", "ref_digest"})
	q.upsertTag = d.upsert("tags", []string{"repository_id", "name", "digest", "updated_at"},
		[]string{"repository_id", "name"}, []string{"digest", "updated_at"})
	q.insertUpload = insertSQL("uploads", []string{"id", "repository_id", "byte_offset", "hash_state", "algorithm",
		"store_state", "created_at", "updated_at", "parts", "last_part_size", "small_part"})
	q.upsertResourceTag = d.upsert("repository_resource_tags", []string{"repository_id", "key", "value"},
		[]string{"repository_id", "key"}, []string{"value"})
	q.setRepositoryPolicy = d.upsert("repository_policies", []string{"repository_id", "policy_text", "updated_at"},
		[]string{"repository_id"}, []string{"policy_text", "updated_at"})
	q.putRegistryPolicy = d.upsert("registry_policies", []string{"account_id", "policy_text", "updated_at"},
		[]string{"account_id"}, []string{"policy_text", "updated_at"})
	q.putAccountSetting = d.upsert("account_settings", []string{"account_id", "name", "value"},
		[]string{"account_id", "name"}, []string{"value"})
	q.insertSigningKey = insertSQL("signing_keys", []string{"id", "secret_ciphertext", "created_at"})
	q.insertUser = insertSQL("iam_users", []string{"account_id", "name", "name_key", "id", "path", "created_at"})
	q.upsertUserTag = d.upsert("iam_user_tags", []string{"account_id", "user_key", "key", "value"},
		[]string{"account_id", "user_key", "key"}, []string{"value"})
	q.putUserPolicy = d.upsert("iam_inline_policies", []string{"account_id", "user_key", "name", "name_key", "document"},
		[]string{"account_id", "user_key", "name_key"}, []string{"document"})
	q.insertPolicy = insertSQL("iam_managed_policies", []string{"account_id", "name", "name_key", "arn_key", "id",
		"path", "description", "document", "created_at", "updated_at"})
	q.attachPolicy = d.insertIgnore("iam_user_policy_attachments", []string{"account_id", "user_key", "policy_arn",
		"policy_key", "attached_at"}, []string{"account_id", "user_key", "policy_key"})
	q.rebind(d)
	return q
}

// rebind renders every statement's placeholders for d.
func (q *queries) rebind(d dialect) {
	for _, p := range []*string{
		&q.insertAccount, &q.getAccount, &q.listAccounts, &q.insertAccessKey, &q.getAccessKey,
		&q.listAccessKeys, &q.setAccessKeyActive, &q.deleteAccessKey, &q.insertRepository,
		&q.getRepository, &q.listRepositories, &q.repositoryExists, &q.repositoryHasManifest,
		&q.deleteRepository, &q.blobSizeAny, &q.insertBlob, &q.linkBlob, &q.blobSize, &q.unlinkBlob,
		&q.blobHolders, &q.insertManifest, &q.insertReference, &q.upsertTag, &q.manifestExists,
		&q.getManifest, &q.getManifestByTag, &q.resolveTag, &q.manifestIsChild, &q.deleteManifest,
		&q.deleteTag, &q.listTags, &q.referrers, &q.insertUpload, &q.getUpload, &q.updateUpload,
		&q.uploadOffset, &q.deleteUpload, &q.expiredUploads, &q.migrationApplied, &q.insertMigration,
		&q.listMigrations, &q.listImagesAny, &q.listImagesTagged, &q.listImagesUntagged,
		&q.updateRepositorySettings, &q.listResourceTags, &q.upsertResourceTag, &q.deleteResourceTag,
		&q.countResourceTags, &q.getRepositoryPolicy, &q.setRepositoryPolicy, &q.deleteRepositoryPolicy,
		&q.getRegistryPolicy, &q.putRegistryPolicy, &q.deleteRegistryPolicy, &q.getAccountSetting,
		&q.putAccountSetting, &q.insertSigningKey, &q.listSigningKeys, &q.deleteSigningKeysBefore,
		&q.deleteAccount, &q.insertUser, &q.getUser, &q.listUsers, &q.userExists, &q.userInUse,
		&q.deleteUser, &q.upsertUserTag, &q.deleteUserTag, &q.countUserTags, &q.putUserPolicy,
		&q.getUserPolicy, &q.listUserPolicies, &q.deleteUserPolicy, &q.insertPolicy, &q.getPolicy,
		&q.listPolicies, &q.policyARNKey, &q.policyAttached, &q.deletePolicy, &q.policyARNExists,
		&q.attachPolicy, &q.detachPolicy, &q.listAttachedPolicies, &q.identityPolicies,
	} {
		*p = d.rebind(*p)
	}
}

// readStmts are the reader pool's prepared statements for the hot paths:
// every registry request resolves its repository and its caller's identity
// policies, pulls resolve manifests and blobs, and the console and ECR
// clients page through images.
type readStmts struct {
	getAccessKey       *sql.Stmt
	getRepository      *sql.Stmt
	getManifest        *sql.Stmt
	getManifestByTag   *sql.Stmt
	resolveTag         *sql.Stmt
	blobSize           *sql.Stmt
	listImagesAny      *sql.Stmt
	listImagesTagged   *sql.Stmt
	listImagesUntagged *sql.Stmt
	identityPolicies   *sql.Stmt
	statLink           *sql.Stmt // GC's view of a blob's link: HEAD of a blob
}

func prepareReadStmts(ctx context.Context, db *sql.DB, q queries, gq gcQueries) (readStmts, error) {
	var rs readStmts
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&rs.getAccessKey, q.getAccessKey},
		{&rs.getRepository, q.getRepository},
		{&rs.getManifest, q.getManifest},
		{&rs.getManifestByTag, q.getManifestByTag},
		{&rs.resolveTag, q.resolveTag},
		{&rs.blobSize, q.blobSize},
		{&rs.listImagesAny, q.listImagesAny},
		{&rs.listImagesTagged, q.listImagesTagged},
		{&rs.listImagesUntagged, q.listImagesUntagged},
		{&rs.identityPolicies, q.identityPolicies},
		{&rs.statLink, gq.statLink},
	} {
		st, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			_ = rs.close()
			return readStmts{}, fmt.Errorf("sqlstore: prepare: %w", err)
		}
		*p.stmt = st
	}
	return rs, nil
}

func (rs readStmts) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{rs.getAccessKey, rs.getRepository, rs.getManifest, rs.getManifestByTag, rs.resolveTag, rs.blobSize,
		rs.listImagesAny, rs.listImagesTagged, rs.listImagesUntagged, rs.identityPolicies, rs.statLink} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

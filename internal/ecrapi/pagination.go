package ecrapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// Signer signs and checks short server values (token.Minter).
type Signer interface {
	Sign(ctx context.Context, data []byte) (keyID string, sig []byte, err error)
	Check(ctx context.Context, keyID string, data, sig []byte) error
}

// cursor is the position a nextToken encodes. It names the listing it
// belongs to, and is signed, so a token cannot be forged or replayed
// against another account's or repository's listing.
type cursor struct {
	Op      string `json:"o"`
	Account string `json:"a"`
	Repo    string `json:"r,omitempty"`
	Last    string `json:"l"`
	Filter  string `json:"f,omitempty"`
}

func (h *Handler) encodeToken(ctx context.Context, c cursor) (*string, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	kid, sig, err := h.opts.Signer.Sign(ctx, data)
	if err != nil {
		return nil, err
	}
	enc := base64.RawURLEncoding
	tok := enc.EncodeToString(data) + "." + kid + "." + enc.EncodeToString(sig)
	return &tok, nil
}

// decodeToken returns the position in tok, which must have been issued for
// the same listing (op, account, repository, filter).
func (h *Handler) decodeToken(ctx context.Context, tok *string, want cursor) (string, error) {
	if tok == nil || *tok == "" {
		return "", nil
	}
	bad := exception(excInvalidParameter, "Invalid parameter at 'nextToken' failed to satisfy constraint: 'the token is invalid or belongs to another request'")
	parts := strings.Split(*tok, ".")
	if len(parts) != 3 {
		return "", bad
	}
	enc := base64.RawURLEncoding
	data, err1 := enc.DecodeString(parts[0])
	sig, err2 := enc.DecodeString(parts[2])
	if err1 != nil || err2 != nil || h.opts.Signer.Check(ctx, parts[1], data, sig) != nil {
		return "", bad
	}
	var c cursor
	if json.Unmarshal(data, &c) != nil || c.Op != want.Op || c.Account != want.Account || c.Repo != want.Repo || c.Filter != want.Filter {
		return "", bad
	}
	return c.Last, nil
}

// pageSize applies ECR's maxResults default and bounds.
func pageSize(maxResults *int32, def int) int {
	if maxResults == nil {
		return def
	}
	return int(*maxResults)
}

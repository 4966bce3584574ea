package ecrapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/registry"
)

// partSize is what InitiateLayerUpload advertises (ECR's maximum part).
const partSize = 10 << 20

// downloadTTL is how long a GetDownloadUrlForLayer URL works.
const downloadTTL = 10 * time.Minute

// DownloadPath is where signed layer download URLs are served.
const DownloadPath = "/ecr-layer-download"

type layersInput struct {
	RegistryID     *string  `json:"registryId"`
	RepositoryName string   `json:"repositoryName"`
	LayerDigests   []string `json:"layerDigests"`
	UploadID       string   `json:"uploadId"`
	LayerDigest    string   `json:"layerDigest"`
	PartFirstByte  *int64   `json:"partFirstByte"`
	PartLastByte   *int64   `json:"partLastByte"`
	LayerPartBlob  []byte   `json:"layerPartBlob"`
}

func (in *layersInput) ref(who auth.Principal) registry.RepoRef {
	return registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}
}

type layerShape struct {
	LayerDigest       string `json:"layerDigest"`
	LayerAvailability string `json:"layerAvailability"`
	LayerSize         int64  `json:"layerSize"`
}

type layerFailure struct {
	LayerDigest   string `json:"layerDigest"`
	FailureCode   string `json:"failureCode"`
	FailureReason string `json:"failureReason"`
}

type batchCheckLayerAvailabilityOutput struct {
	Layers   []layerShape   `json:"layers"`
	Failures []layerFailure `json:"failures"`
}

func (h *Handler) batchCheckLayerAvailability(ctx context.Context, who auth.Principal, in *layersInput) (*batchCheckLayerAvailabilityOutput, error) {
	infos, err := h.svc.CheckLayers(ctx, who, in.ref(who), in.LayerDigests)
	if err != nil {
		return nil, err
	}
	out := &batchCheckLayerAvailabilityOutput{Layers: []layerShape{}, Failures: []layerFailure{}}
	for _, li := range infos {
		switch li.Failure {
		case "":
			availability := "AVAILABLE"
			if li.Archived {
				availability = "ARCHIVED" // only archived images use it; its bytes are still served
			}
			out.Layers = append(out.Layers, layerShape{li.Digest, availability, li.Size})
		case registry.FailureInvalidLayerDigest:
			out.Failures = append(out.Failures, layerFailure{li.Digest, li.Failure, "Invalid layer digest"})
		default:
			out.Failures = append(out.Failures, layerFailure{li.Digest, li.Failure, "Requested layer not found"})
		}
	}
	return out, nil
}

type initiateLayerUploadOutput struct {
	UploadID string `json:"uploadId"`
	PartSize int64  `json:"partSize"`
}

func (h *Handler) initiateLayerUpload(ctx context.Context, who auth.Principal, in *layersInput) (*initiateLayerUploadOutput, error) {
	st, err := h.svc.StartUpload(ctx, who, in.ref(who))
	if err != nil {
		return nil, err
	}
	return &initiateLayerUploadOutput{UploadID: st.ID, PartSize: partSize}, nil
}

type uploadLayerPartOutput struct {
	RegistryID       string `json:"registryId"`
	RepositoryName   string `json:"repositoryName"`
	UploadID         string `json:"uploadId"`
	LastByteReceived int64  `json:"lastByteReceived"`
}

func (h *Handler) uploadLayerPart(ctx context.Context, who auth.Principal, in *layersInput) (*uploadLayerPartOutput, error) {
	ref := in.ref(who)
	st, err := h.svc.UploadLayerPart(ctx, who, ref, in.UploadID, *in.PartFirstByte, *in.PartLastByte, in.LayerPartBlob)
	if errors.Is(err, registry.ErrRangeInvalid) {
		return nil, &apiError{Type: excInvalidLayerPart, Message: registry.Message(err), Extra: map[string]any{
			"registryId": ref.AccountID, "repositoryName": ref.Name, "uploadId": in.UploadID,
			"lastValidByteReceived": st.Offset - 1,
		}}
	}
	if err != nil {
		return nil, err
	}
	return &uploadLayerPartOutput{ref.AccountID, ref.Name, in.UploadID, st.Offset - 1}, nil
}

type completeLayerUploadOutput struct {
	RegistryID     string `json:"registryId"`
	RepositoryName string `json:"repositoryName"`
	UploadID       string `json:"uploadId"`
	LayerDigest    string `json:"layerDigest"`
}

func (h *Handler) completeLayerUpload(ctx context.Context, who auth.Principal, in *layersInput) (*completeLayerUploadOutput, error) {
	ref := in.ref(who)
	if len(in.LayerDigests) != 1 {
		return nil, exception(excInvalidParameter, "Invalid parameter at 'layerDigests' failed to satisfy constraint: 'exactly one layer digest is supported'")
	}
	d, err := h.svc.CompleteLayerUpload(ctx, who, ref, in.UploadID, in.LayerDigests[0])
	switch {
	case errors.Is(err, registry.ErrEmptyUpload):
		return nil, exception(excEmptyUpload, registry.Message(err))
	case errors.Is(err, registry.ErrLayerExists):
		return nil, exception(excLayerAlreadyExists, registry.Message(err))
	case errors.Is(err, registry.ErrDigestInvalid):
		return nil, exception(excInvalidLayer, registry.Message(err))
	case err != nil:
		return nil, err
	}
	return &completeLayerUploadOutput{ref.AccountID, ref.Name, in.UploadID, d.String()}, nil
}

type getDownloadURLForLayerOutput struct {
	DownloadURL string `json:"downloadUrl"`
	LayerDigest string `json:"layerDigest"`
}

// downloadClaim is what a signed download URL grants.
type downloadClaim struct {
	Account string `json:"a"`
	Repo    string `json:"r"`
	Digest  string `json:"d"`
	Expires int64  `json:"e"`
}

func (h *Handler) getDownloadURLForLayer(ctx context.Context, who auth.Principal, in *layersInput) (*getDownloadURLForLayerOutput, error) {
	ref := in.ref(who)
	d, _, redirect, err := h.svc.LayerDownload(ctx, who, ref, in.LayerDigest)
	if errors.Is(err, registry.ErrBlobUnknown) || errors.Is(err, registry.ErrDigestInvalid) {
		return nil, exception(excLayersNotFound, "The layer '"+in.LayerDigest+"' does not exist in the repository with name '"+
			ref.Name+"' in the registry with id '"+ref.AccountID+"'")
	}
	if err != nil {
		return nil, err
	}
	if redirect != "" {
		return &getDownloadURLForLayerOutput{redirect, d.String()}, nil
	}
	claim, err := json.Marshal(downloadClaim{ref.AccountID, ref.Name, d.String(), h.opts.Clock().Add(downloadTTL).Unix()})
	if err != nil {
		return nil, err
	}
	kid, sig, err := h.opts.Signer.Sign(ctx, claim)
	if err != nil {
		return nil, err
	}
	enc := base64.RawURLEncoding
	q := url.Values{"c": {enc.EncodeToString(claim)}, "k": {kid}, "s": {enc.EncodeToString(sig)}}
	return &getDownloadURLForLayerOutput{h.opts.RegistryURL + DownloadPath + "?" + q.Encode(), d.String()}, nil
}

// ServeDownload serves a signed layer download URL: the signature, made
// when GetDownloadUrlForLayer authorized the caller, is the authorization.
func (h *Handler) ServeDownload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	enc := base64.RawURLEncoding
	raw, err1 := enc.DecodeString(q.Get("c"))
	sig, err2 := enc.DecodeString(q.Get("s"))
	var c downloadClaim
	if err1 != nil || err2 != nil || h.opts.Signer.Check(r.Context(), q.Get("k"), raw, sig) != nil || json.Unmarshal(raw, &c) != nil {
		http.Error(w, "invalid or tampered download URL", http.StatusForbidden)
		return
	}
	if h.opts.Clock().Unix() > c.Expires {
		http.Error(w, "download URL has expired; call GetDownloadUrlForLayer again", http.StatusForbidden)
		return
	}
	b, err := h.svc.OpenPresignedBlob(r.Context(), registry.RepoRef{AccountID: c.Account, Name: c.Repo}, digest.Digest(c.Digest))
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, registry.ErrBlobUnknown) || errors.Is(err, registry.ErrNameUnknown) {
			status = http.StatusNotFound
		}
		http.Error(w, strings.ToLower(http.StatusText(status)), status)
		return
	}
	defer b.Body.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Docker-Content-Digest", b.Digest.String())
	w.Header().Set("ETag", strconv.Quote(b.Digest.String()))
	http.ServeContent(w, r, "", time.Time{}, b.Body)
}

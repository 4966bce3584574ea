package ecrapi

import "maps"

// operations is the dispatch table: every ECR operation Berth serves. A
// model operation missing here answers UnsupportedOperationException
// naming it (the README lists them).
func (h *Handler) operations() map[string]opFunc {
	ops := map[string]opFunc{
		"CreateRepository":              op(h, "CreateRepository", h.createRepository),
		"DescribeRepositories":          op(h, "DescribeRepositories", h.describeRepositories),
		"DeleteRepository":              op(h, "DeleteRepository", h.deleteRepository),
		"PutImageTagMutability":         op(h, "PutImageTagMutability", h.putImageTagMutability),
		"PutImageScanningConfiguration": op(h, "PutImageScanningConfiguration", h.putImageScanningConfiguration),
		"DescribeRegistry":              op(h, "DescribeRegistry", h.describeRegistry),
		"ListTagsForResource":           op(h, "ListTagsForResource", h.listTagsForResource),
		"TagResource":                   op(h, "TagResource", h.tagResource),
		"UntagResource":                 op(h, "UntagResource", h.untagResource),
		"GetAuthorizationToken":         op(h, "GetAuthorizationToken", h.getAuthorizationToken),
		"GetRepositoryPolicy":           op(h, "GetRepositoryPolicy", h.getRepositoryPolicy),
		"SetRepositoryPolicy":           op(h, "SetRepositoryPolicy", h.setRepositoryPolicy),
		"DeleteRepositoryPolicy":        op(h, "DeleteRepositoryPolicy", h.deleteRepositoryPolicy),
		"GetRegistryPolicy":             op(h, "GetRegistryPolicy", h.getRegistryPolicy),
		"PutRegistryPolicy":             op(h, "PutRegistryPolicy", h.putRegistryPolicy),
		"DeleteRegistryPolicy":          op(h, "DeleteRegistryPolicy", h.deleteRegistryPolicy),
		"GetAccountSetting":             op(h, "GetAccountSetting", h.getAccountSetting),
		"PutAccountSetting":             op(h, "PutAccountSetting", h.putAccountSetting),
		"ListImages":                    op(h, "ListImages", h.listImages),
		"DescribeImages":                op(h, "DescribeImages", h.describeImages),
		"BatchGetImage":                 op(h, "BatchGetImage", h.batchGetImage),
		"BatchDeleteImage":              op(h, "BatchDeleteImage", h.batchDeleteImage),
		"PutImage":                      op(h, "PutImage", h.putImage),
		"ListImageReferrers":            op(h, "ListImageReferrers", h.listImageReferrers),
		"BatchCheckLayerAvailability":   op(h, "BatchCheckLayerAvailability", h.batchCheckLayerAvailability),
		"InitiateLayerUpload":           op(h, "InitiateLayerUpload", h.initiateLayerUpload),
		"UploadLayerPart":               op(h, "UploadLayerPart", h.uploadLayerPart),
		"CompleteLayerUpload":           op(h, "CompleteLayerUpload", h.completeLayerUpload),
		"GetDownloadUrlForLayer":        op(h, "GetDownloadUrlForLayer", h.getDownloadURLForLayer),
	}
	maps.Copy(ops, h.storageOperations())
	maps.Copy(ops, h.lifecycleOperations())
	return ops
}

// storageOperations are the archive storage class and pull-time
// operations (storage.go).
func (h *Handler) storageOperations() map[string]opFunc {
	return map[string]opFunc{
		"UpdateImageStorageClass":           op(h, "UpdateImageStorageClass", h.updateImageStorageClass),
		"RegisterPullTimeUpdateExclusion":   op(h, "RegisterPullTimeUpdateExclusion", h.registerPullTimeUpdateExclusion),
		"DeregisterPullTimeUpdateExclusion": op(h, "DeregisterPullTimeUpdateExclusion", h.deregisterPullTimeUpdateExclusion),
		"ListPullTimeUpdateExclusions":      op(h, "ListPullTimeUpdateExclusions", h.listPullTimeUpdateExclusions),
	}
}

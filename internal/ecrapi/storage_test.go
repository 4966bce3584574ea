package ecrapi

import (
	"context"
	"fmt"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/registry/registrytest"
)

// storageScenarios drive the archive storage class, pull times and pull
// time update exclusions through success and every modeled failure.
func storageScenarios(e *conformanceEnv) {
	t, env := e.t, e.env
	who, ref := registrytest.Root(registrytest.Account), registrytest.Ref(registrytest.Account, "arch/app")
	e.call("CreateRepository", obj{"repositoryName": "arch/app"})
	base := registrytest.Image{Config: []byte(`{"architecture":"amd64","os":"linux","n":"arch"}`), Layers: [][]byte{[]byte("archive layer")}}
	body, dgst := env.Push(t, who, ref, "v1", base)
	subject := registrytest.Descriptor(ocispec.MediaTypeImageManifest, body)
	_, sbom := env.Push(t, who, ref, "", registrytest.Image{Config: []byte("{}"), Layers: [][]byte{[]byte("arch sbom")},
		ArtifactType: "application/vnd.example.sbom.v1", Subject: &subject})
	repo := obj{"repositoryName": "arch/app"}
	with := func(kv ...any) obj {
		o := obj{"repositoryName": "arch/app"}
		for i := 0; i < len(kv); i += 2 {
			o[kv[i].(string)] = kv[i+1]
		}
		return o
	}

	// Pull times appear once the buffer is flushed.
	e.call("BatchGetImage", with("imageIds", []obj{{"imageTag": "v1"}}))
	env.Clock.Advance(time.Minute)
	if err := env.PullTimes.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	d := e.call("DescribeImages", with("imageIds", []obj{{"imageTag": "v1"}}))
	if details, _ := d.body["imageDetails"].([]any); len(details) != 1 || details[0].(map[string]any)["lastRecordedPullTime"] == nil {
		t.Errorf("DescribeImages after a pull and a flush: %v, want lastRecordedPullTime", d.body)
	}

	out := e.call("UpdateImageStorageClass", with("imageId", obj{"imageTag": "v1"}, "targetStorageClass", "ARCHIVE"))
	if out.str("imageStatus") != "ARCHIVED" {
		t.Errorf("UpdateImageStorageClass ARCHIVE: imageStatus %q, want ARCHIVED", out.str("imageStatus"))
	}
	e.fail("UpdateImageStorageClass", with("imageId", obj{"imageDigest": dgst.String()}, "targetStorageClass", "ARCHIVE"),
		"ImageStorageClassUpdateNotSupportedException")
	e.fail("UpdateImageStorageClass", with("imageId", obj{"imageTag": "nope"}, "targetStorageClass", "ARCHIVE"), "ImageNotFoundException")
	e.fail("UpdateImageStorageClass", with("imageId", obj{}, "targetStorageClass", "ARCHIVE"), "InvalidParameterException")
	e.fail("UpdateImageStorageClass", with("imageId", obj{"imageTag": "v1"}, "targetStorageClass", "GLACIER"), "InvalidParameterException")
	e.fail("UpdateImageStorageClass", with("imageId", obj{"imageTag": "v1"}), "InvalidParameterException")
	e.fail("UpdateImageStorageClass", with("targetStorageClass", "ARCHIVE"), "InvalidParameterException")
	e.fail("UpdateImageStorageClass", obj{"repositoryName": "arch/none", "imageId": obj{"imageTag": "v1"}, "targetStorageClass": "ARCHIVE"},
		"RepositoryNotFoundException")

	for _, status := range []string{"ARCHIVED", "ANY"} {
		e.call("DescribeImages", with("filter", obj{"imageStatus": status}))
		e.call("ListImages", with("filter", obj{"imageStatus": status, "tagStatus": "TAGGED"}))
	}
	page := e.call("ListImages", with("filter", obj{"imageStatus": "ARCHIVED"}, "maxResults", 1))
	e.fail("ListImages", with("nextToken", page.str("nextToken")), "InvalidParameterException") // another filter's token
	e.fail("DescribeImages", with("filter", obj{"imageStatus": "archived"}), "InvalidParameterException")
	e.fail("ListImages", with("filter", obj{"imageStatus": "GONE"}), "InvalidParameterException")
	e.call("DescribeImages", with("imageIds", []obj{{"imageTag": "v1"}}))
	get := e.call("BatchGetImage", with("imageIds", []obj{{"imageTag": "v1"}}))
	if f, _ := get.body["failures"].([]any); len(f) != 1 || f[0].(map[string]any)["failureCode"] != "ImageInaccessible" {
		t.Errorf("BatchGetImage of an archived image: %v, want an ImageInaccessible failure", get.body)
	}
	e.call("BatchCheckLayerAvailability", with("layerDigests", []string{digestOf(base.Layers[0])}))
	for _, status := range []string{"ACTIVE", "ARCHIVED", "ANY"} {
		e.call("ListImageReferrers", with("subjectId", obj{"imageDigest": dgst.String()}, "filter", obj{"artifactStatus": status}))
	}
	e.fail("ListImageReferrers", with("subjectId", obj{"imageDigest": dgst.String()}, "filter", obj{"artifactStatus": "GONE"}),
		"InvalidParameterException")

	out = e.call("UpdateImageStorageClass", with("imageId", obj{"imageDigest": sbom.String()}, "targetStorageClass", "STANDARD"))
	if out.str("imageStatus") != "ACTIVATING" {
		t.Errorf("UpdateImageStorageClass STANDARD: imageStatus %q, want ACTIVATING", out.str("imageStatus"))
	}
	e.call("UpdateImageStorageClass", with("imageId", obj{"imageTag": "v1"}, "targetStorageClass", "STANDARD"))
	e.call("DescribeImages", with("filter", obj{"imageStatus": "ACTIVATING"}))
	e.fail("UpdateImageStorageClass", with("imageId", obj{"imageTag": "v1"}, "targetStorageClass", "STANDARD"),
		"ImageStorageClassUpdateNotSupportedException")
	if n, err := env.Service.CompleteRestores(context.Background()); err != nil || n != 2 {
		t.Fatalf("CompleteRestores = %d, %v; want the image and its referrer", n, err)
	}
	e.call("DescribeImages", repo)
	e.fail("UpdateImageStorageClass", with("imageId", obj{"imageTag": "v1"}, "targetStorageClass", "STANDARD"),
		"ImageStorageClassUpdateNotSupportedException")

	exclusionScenarios(e)
}

func exclusionScenarios(e *conformanceEnv) {
	user := func(i int) string { return fmt.Sprintf("arn:aws:iam::%s:user/ci/u%03d", registrytest.Account, i) }
	reg := e.call("RegisterPullTimeUpdateExclusion", obj{"principalArn": user(0)})
	if reg.str("principalArn") != user(0) || reg.body["createdAt"] == nil {
		e.t.Errorf("RegisterPullTimeUpdateExclusion = %v", reg.body)
	}
	e.fail("RegisterPullTimeUpdateExclusion", obj{"principalArn": user(0)}, "ExclusionAlreadyExistsException")
	for _, bad := range []string{"arn:aws:iam::123:user/x", "arn:aws:iam::" + registrytest.Account + ":root",
		"arn:aws:iam::" + registrytest.Account + ":group/x", "user/x"} {
		e.fail("RegisterPullTimeUpdateExclusion", obj{"principalArn": bad}, "InvalidParameterException")
	}
	e.fail("RegisterPullTimeUpdateExclusion", obj{}, "InvalidParameterException")
	e.call("RegisterPullTimeUpdateExclusion", obj{"principalArn": "arn:aws:iam::" + registrytest.OtherAccount + ":role/scanner"})
	first := e.call("ListPullTimeUpdateExclusions", obj{"maxResults": 1})
	if first.str("nextToken") == "" {
		e.t.Fatalf("ListPullTimeUpdateExclusions maxResults 1 of 2: no nextToken")
	}
	e.call("ListPullTimeUpdateExclusions", obj{"maxResults": 1, "nextToken": first.str("nextToken")})
	e.fail("ListPullTimeUpdateExclusions", obj{"nextToken": "forged"}, "InvalidParameterException")
	e.fail("ListPullTimeUpdateExclusions", obj{"maxResults": 0}, "InvalidParameterException")
	e.fail("ListPullTimeUpdateExclusions", obj{"maxResults": 1001}, "InvalidParameterException")
	e.call("DeregisterPullTimeUpdateExclusion", obj{"principalArn": user(0)})
	e.fail("DeregisterPullTimeUpdateExclusion", obj{"principalArn": user(0)}, "ExclusionNotFoundException")
	e.fail("DeregisterPullTimeUpdateExclusion", obj{"principalArn": "nope"}, "InvalidParameterException")
	for i := 1; i < 100; i++ { // with the role: 100, the limit
		e.call("RegisterPullTimeUpdateExclusion", obj{"principalArn": user(i)})
	}
	e.fail("RegisterPullTimeUpdateExclusion", obj{"principalArn": user(100)}, "LimitExceededException")
	all := e.call("ListPullTimeUpdateExclusions", obj{"maxResults": 1000})
	if l, _ := all.body["pullTimeUpdateExclusions"].([]any); len(l) != 100 || all.str("nextToken") != "" {
		e.t.Errorf("ListPullTimeUpdateExclusions: %d exclusions, nextToken %q; want 100 and none", len(l), all.str("nextToken"))
	}
}

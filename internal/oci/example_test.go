package oci_test

import (
	"errors"
	"fmt"

	"github.com/berth-registry/berth/internal/oci"
)

func ExampleParseManifest() {
	body := []byte(`{
	  "schemaVersion": 2,
	  "mediaType": "application/vnd.oci.image.manifest.v1+json",
	  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
	             "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
	  "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 30,
	              "digest": "sha256:2804bad6fe94a55f18b2b37e300919a5fd517b95aa81e95db574c0ba069a3740"}]
	}`)
	m, err := oci.ParseManifest("application/vnd.oci.image.manifest.v1+json; charset=utf-8", body)
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Kind, m.MediaType, m.ImageSize())
	for _, d := range m.BlobReferences() {
		fmt.Println(d)
	}
	// Output:
	// image application/vnd.oci.image.manifest.v1+json 32
	// sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a
	// sha256:2804bad6fe94a55f18b2b37e300919a5fd517b95aa81e95db574c0ba069a3740
}

func ExampleValidateRepositoryName() {
	for _, name := range []string{"team/app", "Team/app", "123456789012/app"} {
		err := oci.ValidateRepositoryName(name)
		fmt.Println(errors.Is(err, oci.ErrNameInvalid), err)
	}
	// Output:
	// false <nil>
	// true invalid repository name: uppercase letter 'T' at offset 0: repository names must be lowercase
	// true invalid repository name: first path component "123456789012" is reserved: 12 digits address another account's registry (<host>/<account-id>/<name>)
}

func ExampleParseReference() {
	for _, ref := range []string{"v1.0", "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "sha256:ABC"} {
		r, err := oci.ParseReference(ref)
		fmt.Println(r.IsDigest(), err)
	}
	// Output:
	// false <nil>
	// true <nil>
	// false invalid digest: sha256 digest must have 64 hex digits after "sha256:", got 3 in "sha256:ABC"
}

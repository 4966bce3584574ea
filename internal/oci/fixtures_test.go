package oci

import "strings"

// Manifests as real clients push them (docker, buildx, crane, oras, helm, cosign), trimmed of
// nothing but unrelated history entries. Digests are real sha256 values of short strings.

const (
	dCfg   = "sha256:e67d23e7820c49a8051dac2831f38290f5e72f66c8db5079eeb60d82f14894c0"
	dL1    = "sha256:2804bad6fe94a55f18b2b37e300919a5fd517b95aa81e95db574c0ba069a3740"
	dL2    = "sha256:8a1cee436cbac1489a1883c9d886fcfc46f302c55ed4106ae31729e4f4eb9041"
	dL3    = "sha256:10dacdccfe877dc064d57442e6fa7a4e3085dc94e11a29819c2290fc3d788724"
	dAmd64 = "sha256:5861314d7fccb39c2192173240eab44fa35ca66426201ca2acd0630a6258dd51"
	dArm64 = "sha256:f69162950f235e3cdbbad33f1f912d1a504be90d8a37d002c735d6f3e3882265"
	dAtt   = "sha256:f745a15153c4dacf0ea4bbf57265e73283941f8335939b33c693975315cf5916"
	dWin   = "sha256:823a3180dad3c9c3c4dea43ab2baf9f04bac9c3a7711745ff5f702551496d735"
	dSubj  = "sha256:ceaeee3c0f91c6c853bda5200efb5a1b94c85fd8bb21171047cbd19059c15722"
	dSbom  = "sha256:98f3ae1ef67113d8140d4f6cb8d2830070e21ea48f091be519659846c771a374"
	dHelm  = "sha256:3de95e00f259737fef4df81e9db3d8f02c04d37f6de0cad12b22fc624393e0ed"
	dChart = "sha256:cc57fc1903e444cf6a726490b43b27ee9f87facc037f86872201847c565b45fb"
	dSig   = "sha256:a543997d84f12798350c09bdef2cdb171bf41ed3e4a5f808af2feb0c56263009"
	dEmpty = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
	dS512  = "sha512:a4abd4448c49562d828115d13a1fccea927f52b4d5459297f8b43e42da89238bc13626e43dcb38ddb082488927ec904fb42057443983e88585179d50551afe62"
	// Docker schema 1's "empty layer" blob, repeated for every metadata-only history entry.
	dS1Empty = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"
	dS1Layer = "sha256:cc8567d70002e957612902a8e985ea129d831ebe04057d88fb644857caa45d11"
)

// expand replaces $NAME placeholders with the digests above, so test bodies stay readable.
var expand = strings.NewReplacer(
	"$CFG", dCfg, "$L1", dL1, "$L2", dL2, "$L3", dL3, "$AMD64", dAmd64, "$ARM64", dArm64,
	"$ATT", dAtt, "$WIN", dWin, "$SUBJ", dSubj, "$SBOM", dSbom, "$HELM", dHelm,
	"$CHART", dChart, "$SIG", dSig, "$EMPTY", dEmpty, "$S512", dS512,
).Replace

// docker buildx --output type=image,oci-mediatypes=false
var fixtureDockerManifest = expand(`{
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "config": {
      "mediaType": "application/vnd.docker.container.image.v1+json",
      "size": 1472,
      "digest": "$CFG"
   },
   "layers": [
      {
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 3408729,
         "digest": "$L1"
      },
      {
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 32,
         "digest": "$L2"
      }
   ]
}`)

// buildkit with oci-mediatypes=true (the docker 25+ default for the containerd store).
var fixtureOCIManifest = expand(`{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {
    "mediaType": "application/vnd.oci.image.config.v1+json",
    "digest": "$CFG",
    "size": 2297
  },
  "layers": [
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
      "digest": "$L1",
      "size": 29124657
    },
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
      "digest": "$L2",
      "size": 1185
    },
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
      "digest": "$L3",
      "size": 93
    }
  ],
  "annotations": {
    "org.opencontainers.image.base.name": "docker.io/library/debian:bookworm-slim",
    "org.opencontainers.image.created": "2024-06-01T10:11:12Z"
  }
}`)

// docker manifest create / push (multi-arch, Docker media types).
var fixtureDockerList = expand(`{
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
   "manifests": [
      {
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "size": 528,
         "digest": "$AMD64",
         "platform": {"architecture": "amd64", "os": "linux"}
      },
      {
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "size": 528,
         "digest": "$ARM64",
         "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}
      }
   ]
}`)

// docker buildx build --platform linux/amd64,linux/arm64 --provenance=true --push
var fixtureOCIIndex = expand(`{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "$AMD64",
      "size": 1054,
      "platform": {"architecture": "amd64", "os": "linux"}
    },
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "$ARM64",
      "size": 1054,
      "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}
    },
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "$ATT",
      "size": 566,
      "annotations": {
        "vnd.docker.reference.digest": "$AMD64",
        "vnd.docker.reference.type": "attestation-manifest"
      },
      "platform": {"architecture": "unknown", "os": "unknown"}
    },
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "$AMD64",
      "size": 1054,
      "platform": {"architecture": "amd64", "os": "linux", "os.features": ["sse4"]}
    }
  ],
  "annotations": {"org.opencontainers.image.revision": "3f2c1a9"}
}`)

// docker push of a schema 1 image by docker < 1.10 (signed; the same empty-layer blob repeats).
var fixtureSchema1Signed = expand(`{
   "schemaVersion": 1,
   "name": "library/hello-world",
   "tag": "latest",
   "architecture": "amd64",
   "fsLayers": [
      {"blobSum": "` + dS1Empty + `"},
      {"blobSum": "` + dS1Layer + `"},
      {"blobSum": "` + dS1Empty + `"}
   ],
   "history": [
      {"v1Compatibility": "{\"id\":\"e45a5af57b00862e5ef5782a9925979a02ba2b12dff832fd0991335f4a11e5c5\",\"created\":\"2014-12-31T22:57:59.178729048Z\",\"container_config\":{\"Cmd\":[\"/bin/sh\",\"-c\",\"#(nop) CMD [/hello]\"]}}"},
      {"v1Compatibility": "{\"id\":\"31cbccb51277105ba3ae35ce33c22b69c9e3f1002e76e4c736a2e8ebff9d7b5d\",\"created\":\"2014-12-31T22:57:59.088729048Z\"}"},
      {"v1Compatibility": "{\"id\":\"511136ea3c5a64f264b78b5433614aec563103b4d4702f3ba7d4d2698e22c158\",\"created\":\"2013-06-13T14:03:50.821769-07:00\"}"}
   ],
   "signatures": [
      {
         "header": {
            "jwk": {
               "crv": "P-256",
               "kid": "OD6I:6DRK:JXEJ:KBM4:255X:NSAA:MUSF:E4VM:ZI6W:CUN2:L4Z6:LSF4",
               "kty": "EC",
               "x": "3gAwX48IQ5oaYQAYSxor6rYYc_6yjuLCjtQ9LUakg4A",
               "y": "t72ge6kIA1XOjqjVoEOiPPAURltJFBMGDSQvEGVB010"
            },
            "alg": "ES256"
         },
         "signature": "XREm0L8WNn27Ga_iE_vRnTxVMhhYY0Zst_FfkKopg6gWSoTOZTuW4rK0fg_IqnKkEKlbD83tD46LKEGi5aIVFg",
         "protected": "eyJmb3JtYXRMZW5ndGgiOjY2MjgsImZvcm1hdFRhaWwiOiJDbjBLIiwidGltZSI6IjIwMTUtMDQtMDhUMTg6NTI6NTlaIn0"
      }
   ]
}`)

// Windows image: the base layer is foreign (Microsoft's licence forbids redistribution).
var fixtureWindows = expand(`{
  "schemaVersion": 2,
  "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
  "config": {
    "mediaType": "application/vnd.docker.container.image.v1+json",
    "size": 1823,
    "digest": "$CFG"
  },
  "layers": [
    {
      "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
      "size": 1654613376,
      "digest": "$WIN",
      "urls": ["https://mcr.microsoft.com/v2/windows/servercore/blobs/$WIN"]
    },
    {
      "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
      "size": 1073,
      "digest": "$L1"
    }
  ]
}`)

// OCI image mixing a non-distributable layer without urls and a normal layer with urls.
var fixtureOCIForeign = expand(`{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "$CFG", "size": 100},
  "layers": [
    {"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "digest": "$WIN", "size": 1000},
    {"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", "digest": "$L3", "size": 5},
    {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "$L1", "size": 10,
     "urls": ["https://example.com/layer.tar.gz"]},
    {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "$L2", "size": 20}
  ]
}`)

// oras attach --artifact-type application/spdx+json (OCI 1.1 artifact, empty config).
var fixtureArtifact = expand(`{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "artifactType": "application/spdx+json",
  "config": {
    "mediaType": "application/vnd.oci.empty.v1+json",
    "digest": "$EMPTY",
    "size": 2,
    "data": "e30="
  },
  "layers": [
    {
      "mediaType": "application/spdx+json",
      "digest": "$SBOM",
      "size": 28213,
      "annotations": {"org.opencontainers.image.title": "sbom.spdx.json"}
    }
  ],
  "subject": {
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": "$SUBJ",
    "size": 1054
  },
  "annotations": {"org.opencontainers.image.created": "2024-06-01T10:11:12Z"}
}`)

// helm push (older helm sends no mediaType field; the type comes from Content-Type).
var fixtureHelm = expand(`{
  "schemaVersion": 2,
  "config": {
    "mediaType": "application/vnd.cncf.helm.config.v1+json",
    "digest": "$HELM",
    "size": 117
  },
  "layers": [
    {
      "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
      "digest": "$CHART",
      "size": 3565
    }
  ],
  "annotations": {
    "org.opencontainers.image.title": "mychart",
    "org.opencontainers.image.version": "0.1.0"
  }
}`)

// cosign sign (tag-based signature: a plain image config, referrer-less).
var fixtureCosign = expand(`{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {
    "mediaType": "application/vnd.oci.image.config.v1+json",
    "size": 233,
    "digest": "$CFG"
  },
  "layers": [
    {
      "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
      "size": 247,
      "digest": "$SIG",
      "annotations": {
        "dev.cosignproject.cosign/signature": "MEUCIQDw4fz1yfYhT8x0Vd5qpXu0pYl4V6vA2bQnE0dS1wIgYk2m"
      }
    }
  ]
}`)

// An OCI 1.1 index used as an artifact: it refers to a subject and has its own artifactType.
var fixtureIndexArtifact = expand(`{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "artifactType": "application/vnd.example.signature-bundle",
  "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "$SIG", "size": 700,
     "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"}
  ],
  "subject": {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "$SUBJ", "size": 3000}
}`)

// An image whose config and layers use sha512 digests.
var fixtureSHA512 = expand(`{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "$S512", "size": 7},
  "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "$S512", "size": 9}]
}`)

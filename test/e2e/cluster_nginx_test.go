package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-registry/berth/internal/testenv"
)

// nginxConf is the example load balancer configuration.
const nginxConf = "deploy/nginx/berth.conf"

// loadBalancer is nginx running deploy/nginx/berth.conf in front of a
// cluster, on a loopback port with a test certificate.
type loadBalancer struct {
	host   string // 127.0.0.1:PORT
	client *http.Client
	dir    string
}

// startNginx runs the example configuration with the cluster's nodes as
// its upstream servers, the test's port and certificate and private paths;
// every other line is used as written.
func startNginx(t *testing.T, host string, nodes []*server, certFile, keyFile string) *loadBalancer {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Fatal("nginx is not installed (Debian package nginx; scripts/test.sh installs it)")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, nginxConf))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	upstreams := regexp.MustCompile(`(?m)^(\s*server )10\.0\.0\.\d+:5000( .*;)$`)
	i := 0
	conf = upstreams.ReplaceAllStringFunc(conf, func(line string) string {
		m := upstreams.FindStringSubmatch(line)
		if i >= len(nodes) {
			t.Fatalf("%s has more upstream servers than the test has nodes", nginxConf)
		}
		i++
		return m[1] + nodes[i-1].host + m[2]
	})
	if i != len(nodes) {
		t.Fatalf("%s: %d upstream servers, want one per node (%d)", nginxConf, i, len(nodes))
	}
	replace := func(old, new string) {
		t.Helper()
		if !strings.Contains(conf, old) {
			t.Fatalf("%s no longer contains %q; update the test", nginxConf, old)
		}
		conf = strings.ReplaceAll(conf, old, new)
	}
	replace("listen 443 ", "listen "+host+" ")
	replace("/etc/nginx/tls/registry.example.com.crt", certFile)
	replace("/etc/nginx/tls/registry.example.com.key", keyFile)

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "berth.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers need the private temporary directory
	}
	main := fmt.Sprintf(`%s
daemon off;
worker_processes 2;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 256; }
http {
    access_log %[2]s/access.log;
    client_body_temp_path %[2]s/client_body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    include %[2]s/berth.conf;
}
`, user, dir)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-t", "-p", dir, "-c", confPath).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", confPath)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt) // fast shutdown of this test's nginx
		_ = cmd.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error log:\n%s", log)
		}
	})
	lb := &loadBalancer{host: host, dir: dir}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", host, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not listen on %s: %v", host, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return lb
}

// tlsClient trusts the test CA and speaks HTTP/2 where offered.
func tlsClient(t *testing.T, caFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("test CA not parsed")
	}
	return &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true, Proxy: nil,
	}}
}

// TestClusterBehindNginx runs the example nginx configuration in front of
// three nodes (redirects off, so blob bytes flow through nginx both ways)
// and uses the registry through it: the ECR API over SigV4 (nginx keeps
// the Host header), a push of a 48 MiB layer whose upload requests nginx
// spreads over the nodes, and a pull of it. nginx must buffer neither the
// upload nor the download to disk.
func TestClusterBehindNginx(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("nginx"); err != nil {
		t.Fatal("nginx is not installed (Debian package nginx; scripts/test.sh installs it)")
	}
	ctx := testContext(t, 5*time.Minute)
	lbHost := "127.0.0.1:" + freePort(t)
	c := startCluster(t, 3, clusterOptions{dsn: testenv.PostgresDatabase(t),
		extraEnv: []string{"BERTH_REGISTRY_HOST=" + lbHost, "BERTH_S3_REDIRECT=false"}})
	certFile, keyFile, caFile := testenv.ServerCerts(t)
	lb := startNginx(t, lbHost, c.nodes, certFile, keyFile)
	client := tlsClient(t, caFile)

	api := ecr.New(ecr.Options{Region: ecrRegion, BaseEndpoint: aws.String("https://" + lb.host),
		Credentials: credentials.NewStaticCredentialsProvider(rootKeyID, rootSecret, ""),
		Retryer:     aws.NopRetryer{}, HTTPClient: client})
	out, err := api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("lb/app")})
	if err != nil {
		t.Fatalf("CreateRepository through nginx: %v", err)
	}
	if uri := aws.ToString(out.Repository.RepositoryUri); uri != lb.host+"/lb/app" {
		t.Errorf("repository URI %q, want the load balancer's name %s/lb/app", uri, lb.host)
	}

	big, err := random.Layer(48<<20, "application/vnd.oci.image.layer.v1.tar")
	if err != nil {
		t.Fatal(err)
	}
	small, err := random.Layer(64<<10, "application/vnd.oci.image.layer.v1.tar")
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, big, small)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := name.NewRepository(lb.host + "/lb/app")
	if err != nil {
		t.Fatal(err)
	}
	opts := remoteOpts(ctx, remote.WithTransport(client.Transport))
	if err := remote.Write(repo.Tag("v1"), img, opts...); err != nil {
		t.Fatalf("push through nginx: %v", err)
	}
	got, err := remote.Image(repo.Tag("v1"), opts...)
	if err != nil {
		t.Fatalf("pull through nginx: %v", err)
	}
	layers, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if g, w := mustDigest(t, layers[0]), mustDigest(t, big); g != w {
		t.Fatalf("pulled layer %s, want %s", g, w)
	}
	if g, w := readCompressed(t, layers[0]), readCompressed(t, big); string(g) != string(w) {
		t.Fatalf("pulled layer differs: %d bytes, want %d", len(g), len(w))
	}

	nodesUsed := 0
	for i, s := range c.nodes {
		n := 0
		for _, a := range accessLines(s) {
			if strings.HasPrefix(a.Path, "/v2/lb/app/") {
				n++
			}
		}
		if n > 0 {
			nodesUsed++
		}
		t.Logf("node %d served %d registry requests through nginx", i+1, n)
	}
	if nodesUsed < 2 {
		t.Errorf("nginx sent the registry requests to %d node(s), want them spread over the cluster", nodesUsed)
	}
	log, _ := os.ReadFile(filepath.Join(lb.dir, "error.log"))
	if strings.Contains(string(log), "buffered to a temporary file") {
		t.Errorf("nginx buffered a body to disk:\n%s", log)
	}
}

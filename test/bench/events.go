package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"sync/atomic"
	"time"
)

// The events scenarios measure what registry events and the audit trail
// cost a push: manifest push (the step that writes the events, one per tag,
// in the push's own transaction, and one PutImage audit record, appended in
// batches by the audit writer) on a Berth process with events and audit on
// and a webhook sink that receives the events while the load runs (a
// receiver in this program answering 204), interleaved rep by rep with the
// same push on a Berth process started with --events=false --audit=false.
// Both are fresh processes of their own, so neither inherits the other
// scenarios' data; their figures stand in the Berth column. Target: events
// and audit on >= 0.9x both off.
const groupEventsPush = "events-push"

// groupAuditBlobPush measures small-blob pushes (POST + PUT: two audit
// records, InitiateLayerUpload and CompleteLayerUpload, and no event) on
// the same two processes: what the audit trail costs the push steps that
// write the most records per byte. Target: >= 0.9x with both off.
const groupAuditBlobPush = "audit-blob-push"

// eventTargets are the two Berth processes and the webhook receiver.
type eventTargets struct {
	on, off   *target
	delivered atomic.Int64 // events the receiver got
	hookURL   string
	sinkReady bool
}

func (b *bench) eventScenarios() []*scenario {
	prepare := func(ctx context.Context, t *target) error {
		if err := b.pushManifestBlobs(ctx, t, repoManifests); err != nil {
			return err
		}
		if t != b.events.on || b.events.sinkReady || !b.o.eventsSink {
			return nil
		}
		b.events.sinkReady = true
		out, err := exec.CommandContext(ctx, b.berthBin, "admin", "events", "sink", "create", "--data-dir", t.dataDir,
			"--name", "bench", "--type", "webhook", "--url", b.events.hookURL, "--secret", "bench-secret").CombinedOutput()
		if err != nil {
			return fmt.Errorf("create the webhook sink: %v: %s", err, out)
		}
		return nil
	}
	title := "manifest push, events and audit on, webhook sink"
	if !b.o.eventsSink {
		title = "manifest push, events and audit on, no sink"
	}
	on := b.rateScenario("manifest_push_events", title,
		rule{baseline: "manifest_push_events_off", ratio: 0.9}, prepare, b.manifestPushOp, false)
	off := b.rateScenario("manifest_push_events_off", "manifest push, --events=false --audit=false", rule{info: true},
		prepare, b.manifestPushOp, false)
	on.only = func() *target { return b.events.on }
	off.only = func() *target { return b.events.off }
	measure := on.measure
	on.measure = func(ctx context.Context, t *target, rep int) (sample, error) {
		before := b.events.delivered.Load()
		s, err := measure(ctx, t, rep)
		if err == nil {
			fmt.Fprintf(b.log, "bench: events: the webhook received %d events during the rep (%d in all)\n",
				b.events.delivered.Load()-before, b.events.delivered.Load())
		}
		return s, err
	}
	for _, sc := range []*scenario{on, off} {
		sc.berthOnly, sc.group = true, groupEventsPush
	}
	blobPush := func(ctx context.Context, t *target, _ int) (opFunc, error) { return b.postPutOp(ctx, t, repoPushTwo) }
	blobOn := b.rateScenario("small_push_audit", "small-blob push (POST + PUT), events and audit on",
		rule{baseline: "small_push_audit_off", ratio: 0.9}, nil, blobPush, true)
	blobOff := b.rateScenario("small_push_audit_off", "small-blob push (POST + PUT), --events=false --audit=false",
		rule{info: true}, nil, blobPush, true)
	blobOn.only = func() *target { return b.events.on }
	blobOff.only = func() *target { return b.events.off }
	for _, sc := range []*scenario{blobOn, blobOff} {
		sc.berthOnly, sc.group = true, groupAuditBlobPush
	}
	return []*scenario{on, off, blobOn, blobOff}
}

// startEventTargets starts the receiver and the two Berth processes; the
// returned function stops them.
func (b *bench) startEventTargets(ctx context.Context, tmp string) (func(), error) {
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return stop, err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.events.delivered.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = srv.Serve(ln) }()
	stops = append(stops, func() { _ = srv.Close() })
	b.events.hookURL = "http://" + ln.Addr().String() + "/"
	if b.events.on, err = startBerthAs(ctx, b.o, tmp, b.berthBin, "berth-events-on", "--events=true", "--audit=true"); err != nil {
		return stop, fmt.Errorf("berth with events and audit: %w", err)
	}
	stops = append(stops, b.events.on.stop)
	if b.events.off, err = startBerthAs(ctx, b.o, tmp, b.berthBin, "berth-events-off", "--events=false", "--audit=false"); err != nil {
		return stop, fmt.Errorf("berth without events and audit: %w", err)
	}
	stops = append(stops, b.events.off.stop)
	fmt.Fprintf(b.log, "bench: events: berth pid %d (events and audit on) at %s, pid %d (both off) at %s\n",
		b.events.on.proc.pid(), b.events.on.base, b.events.off.proc.pid(), b.events.off.base)
	return stop, nil
}

// selected reports whether a unit of the run is the group.
func selected(units [][]*scenario, group string) bool {
	for _, u := range units {
		for _, sc := range u {
			if sc.group == group {
				return true
			}
		}
	}
	return false
}

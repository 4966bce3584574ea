package events

import (
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/testenv"
)

// TestDispatcherNATS publishes to a real nats-server: a subscriber gets
// every event, rendered exactly, with the dedupe and routing headers, in
// order per repository; an unreachable second sink holds nothing up.
func TestDispatcherNATS(t *testing.T) {
	t.Parallel()
	url := testenv.NATSURL(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	subject := "berth.test." + t.Name()
	msgs := make(chan *nats.Msg, 100)
	sub, err := nc.ChanSubscribe(subject, msgs)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	f := newFixture(t)
	f.sink(metastore.EventSink{Name: "bus", Type: metastore.SinkNATS, URL: url, Subject: subject})
	// A second NATS sink pointing nowhere must not hold this one up.
	f.sink(metastore.EventSink{Name: "down", Type: metastore.SinkNATS, URL: "nats://127.0.0.1:1", Subject: "x",
		Timeout: 200 * time.Millisecond})
	f.push("team/app", "v1", "latest")
	f.push("team/web")
	if err := f.store.DeleteTag(t.Context(), f.repos["team/app"], "latest"); err != nil {
		t.Fatal(err)
	}
	f.run(Options{})

	outbox, err := f.store.ListEvents(t.Context(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for range outbox {
		select {
		case m := <-msgs:
			id := m.Header.Get(HeaderNATSMsgID)
			i := slices.IndexFunc(outbox, func(e metastore.Event) bool { return e.ID == id })
			if i < 0 {
				t.Fatalf("message for unknown event %q", id)
			}
			exact, _ := Renderer{Region: "eu-west-1"}.Render(outbox[i])
			if string(m.Data) != string(exact) {
				t.Errorf("message\n got %s\nwant %s", m.Data, exact)
			}
			if m.Header.Get(HeaderEventID) != id || m.Header.Get(HeaderRepository) != outbox[i].Repository ||
				m.Header.Get(HeaderDetailType) != "ECR Image Action" {
				t.Errorf("headers %v", m.Header)
			}
			got = append(got, outbox[i].Repository+" "+outbox[i].Tag+" "+outbox[i].ActionType)
		case <-time.After(10 * time.Second):
			t.Fatalf("received %v, want %d events", got, len(outbox))
		}
	}
	app := slices.DeleteFunc(slices.Clone(got), func(s string) bool { return s[:8] != "team/app" })
	if want := []string{"team/app v1 PUSH", "team/app latest PUSH", "team/app latest DELETE"}; !slices.Equal(app, want) {
		t.Errorf("team/app events %v, want %v", app, want)
	}
	select {
	case m := <-msgs:
		t.Errorf("extra message %s", m.Data)
	case <-time.After(100 * time.Millisecond):
	}
	// The unreachable sink retries; nothing of it is dead yet.
	st, _ := f.store.EventStats(t.Context())
	if st.Pending == 0 || st.Dead != 0 {
		t.Errorf("down sink backlog: %+v", st)
	}
}

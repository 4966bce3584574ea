package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// rule is a metric's target: Berth/against >= ratio, or, with baseline,
// Berth >= ratio x Berth's figure in the baseline metric (another key of
// the run, measured interleaved with it), or, without either, Berth <
// ceiling; or, with info, none (the figure is informational).
type rule struct {
	against  string
	baseline string // metric key
	ratio    float64
	ceiling  float64
	info     bool
}

func (r rule) String() string {
	if r.info {
		return "informational"
	}
	if r.baseline != "" {
		return fmt.Sprintf(">= %gx %s", r.ratio, r.baseline)
	}
	switch r.against {
	case targetReference:
		return fmt.Sprintf(">= %gx reference", r.ratio)
	case targetLimit:
		return fmt.Sprintf(">= %gx limit", r.ratio)
	}
	return fmt.Sprintf("< %g", r.ceiling)
}

// metric is one row of the report.
type metric struct {
	Key         string              `json:"key"`
	Title       string              `json:"title"`
	Unit        string              `json:"unit"`
	Target      string              `json:"target"`
	Median      map[string]float64  `json:"median"`
	VsReference *float64            `json:"berth_vs_reference,omitempty"`
	VsLimit     *float64            `json:"berth_vs_limit,omitempty"`
	Baseline    string              `json:"baseline,omitempty"` // the metric key of a baseline rule
	VsBaseline  *float64            `json:"berth_vs_baseline,omitempty"`
	Result      string              `json:"result"` // PASS, MISS, INFO (informational row) or ERR
	Samples     map[string][]sample `json:"samples"`
	Errors      map[string]string   `json:"errors,omitempty"`
	rule        rule
	berthOnly   bool
}

func newMetric(sc *scenario) *metric {
	return &metric{
		Key: sc.key, Title: sc.title, Unit: sc.unit, Target: sc.rule.String() + unitSuffix(sc),
		Median: map[string]float64{}, Samples: map[string][]sample{}, Errors: map[string]string{}, rule: sc.rule,
		Baseline: sc.rule.baseline, berthOnly: sc.berthOnly,
	}
}

func unitSuffix(sc *scenario) string {
	if sc.rule.against == "" && sc.rule.baseline == "" && !sc.rule.info {
		return " " + sc.unit
	}
	return ""
}

// finish computes medians, ratios and the verdict; that of a baseline rule
// is left to compareBaselines.
func (m *metric) finish() {
	for name, ss := range m.Samples {
		m.Median[name] = median(ss, func(s sample) float64 { return s.Value })
	}
	berth, okB := m.Median[targetBerth]
	if ref, ok := m.Median[targetReference]; ok && okB && ref > 0 {
		m.VsReference = ptr(berth / ref)
	}
	if lim, ok := m.Median[targetLimit]; ok && okB && lim > 0 {
		m.VsLimit = ptr(berth / lim)
	}
	m.Result = "ERR"
	switch {
	case m.rule.baseline != "":
	case m.rule.against == targetReference && m.VsReference != nil:
		m.Result = verdict(*m.VsReference >= m.rule.ratio)
	case m.rule.against == targetLimit && m.VsLimit != nil:
		m.Result = verdict(*m.VsLimit >= m.rule.ratio)
	case m.rule.info && okB:
		m.Result = "INFO"
	case m.rule.against == "" && okB:
		m.Result = verdict(berth < m.rule.ceiling)
	}
}

// compareBaselines computes, for every metric with a baseline rule, Berth's
// median over the baseline metric's and the verdict (ERR when either is
// missing).
func compareBaselines(metrics []*metric) {
	byKey := map[string]*metric{}
	for _, m := range metrics {
		byKey[m.Key] = m
	}
	for _, m := range metrics {
		if m.rule.baseline == "" {
			continue
		}
		base, ok := byKey[m.rule.baseline]
		if !ok {
			continue
		}
		x, okX := m.Median[targetBerth]
		y, okY := base.Median[targetBerth]
		if okX && okY && y > 0 {
			m.VsBaseline = ptr(x / y)
			m.Result = verdict(*m.VsBaseline >= m.rule.ratio)
		}
	}
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func ptr(f float64) *float64 { return &f }

func median(ss []sample, f func(sample) float64) float64 {
	if len(ss) == 0 {
		return math.NaN()
	}
	v := make([]float64, 0, len(ss))
	for _, s := range ss {
		v = append(v, f(s))
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func report(w io.Writer, h header, metrics []*metric, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(struct {
			Header  header    `json:"header"`
			Metrics []*metric `json:"metrics"`
		}{h, metrics})
	}
	fmt.Fprintln(w, strings.Join(h.lines(), "\n"))
	fmt.Fprintln(w)
	// The Berth/baseline column is there when a row is compared with another.
	baseline := slices.ContainsFunc(metrics, func(m *metric) bool { return m.Baseline != "" })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "metric\t unit\t Berth\t reference\t limit\t Berth/ref\t Berth/limit\t"
	if baseline {
		head += " Berth/baseline\t"
	}
	fmt.Fprintln(tw, head+" target\t result\t")
	for _, m := range metrics {
		fmt.Fprintf(tw, "%s\t %s\t %s\t %s\t %s\t %s\t %s\t", m.Title, m.Unit,
			m.value(targetBerth), m.value(targetReference), m.value(targetLimit),
			ratio(m.VsReference), ratio(m.VsLimit))
		if baseline {
			fmt.Fprintf(tw, " %s\t", ratio(m.VsBaseline))
		}
		fmt.Fprintf(tw, " %s\t %s\t\n", m.Target, m.Result)
	}
	tw.Flush()
	notes(w, h, metrics)
	fmt.Fprintln(w)
	diagnostics(w, metrics)
	costs(w, metrics)
	return nil
}

func (m *metric) value(name string) string {
	if _, failed := m.Errors[name]; failed {
		return "error"
	}
	v, ok := m.Median[name]
	if !ok {
		return "-"
	}
	return formatValue(v)
}

func ratio(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.2fx", *p)
}

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func notes(w io.Writer, h header, metrics []*metric) {
	monolithicRow := slices.ContainsFunc(metrics, func(m *metric) bool { return m.Key == "small_push_monolithic" })
	if !h.ReferenceMonolithic && monolithicRow {
		fmt.Fprintln(w, "note: the reference does not store blobs sent with POST ?digest= (it answers 202 and ignores the body);")
		fmt.Fprintln(w, "      its figure in that row is what a client falls back to: POST + PUT.")
	}
	for _, m := range metrics {
		for name, e := range m.Errors {
			fmt.Fprintf(w, "error: %s, %s: %s\n", m.Title, name, e)
		}
	}
}

// diagnostics prints, per metric, server CPU per unit of work (from
// /proc/<pid>/stat), the client's CPU per unit, and latency percentiles.
func diagnostics(w io.Writer, metrics []*metric) {
	fmt.Fprintln(w, "diagnostics (medians): server and client CPU per op (per GB for MB/s rows); latency per op")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "metric\t CPU unit\t Berth CPU\t ref CPU\t Berth/ref CPU\t client CPU (B)\t client CPU (ref)\t p50 B ms\t p50 ref ms\t p99 B ms\t p99 ref ms\t")
	for _, m := range metrics {
		unit, per := cpuUnit(m.Unit)
		if per == nil {
			continue
		}
		srv := func(name string) float64 {
			return median(m.Samples[name], func(s sample) float64 { return s.ServerCPU * per(s) })
		}
		cli := func(name string) float64 {
			return median(m.Samples[name], func(s sample) float64 { return s.ClientCPU * per(s) })
		}
		lat := func(name string, f func(sample) float64) string {
			if m.Unit != "ops/s" {
				return "-"
			}
			return formatValue(median(m.Samples[name], f))
		}
		p50 := func(s sample) float64 { return s.P50Ms }
		p99 := func(s sample) float64 { return s.P99Ms }
		b, r := srv(targetBerth), srv(targetReference)
		fmt.Fprintf(tw, "%s\t %s\t %s\t %s\t %s\t %s\t %s\t %s\t %s\t %s\t %s\t\n", m.Title, unit,
			formatValue(b), formatValue(r), cpuRatio(b, r), formatValue(cli(targetBerth)), formatValue(cli(targetReference)),
			lat(targetBerth, p50), lat(targetReference, p50), lat(targetBerth, p99), lat(targetReference, p99))
	}
	tw.Flush()
}

// cpuUnit names the CPU figure and returns the factor turning a sample's
// CPU seconds into it.
func cpuUnit(unit string) (string, func(sample) float64) {
	switch unit {
	case "ops/s":
		return "us/op", func(s sample) float64 { return 1e6 / float64(max(s.Ops, 1)) }
	case "MB/s", "MiB":
		return "s/GB", func(s sample) float64 { return 1e9 / float64(max(s.Bytes, 1)) }
	}
	return "", nil
}

func cpuRatio(b, r float64) string {
	if math.IsNaN(b) || math.IsNaN(r) || r == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", b/r)
}

// costs prints, for the Berth-only rows (the ECR API, registry-password
// and authorization rows), what one request costs: the server's CPU, this program's CPU and,
// of that, the CPU of making and SigV4-signing the request (measured alone
// after each repetition); then the differences between rows that isolate
// one mechanism.
func costs(w io.Writer, metrics []*metric) {
	byKey := map[string]*metric{}
	var rows []*metric
	for _, m := range metrics {
		byKey[m.Key] = m
		if m.berthOnly && m.Unit == "ops/s" {
			rows = append(rows, m)
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "what each costs per request (Berth only, medians): server CPU; all of the client's CPU; and the client's")
	fmt.Fprintln(w, "SigV4 signing alone (request copy + payload SHA-256 + v4.Signer, one goroutine timed after each rep)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "metric\t server CPU us/op\t client CPU us/op\t client signing us/op\t signing / server CPU\t")
	for _, m := range rows {
		srv, cli, sign := perOp(m, func(s sample) float64 { return s.ServerCPU }),
			perOp(m, func(s sample) float64 { return s.ClientCPU }),
			median(m.Samples[targetBerth], func(s sample) float64 { return s.ClientSignUs })
		signStr, share := "-", "-"
		if sign > 0 {
			signStr, share = formatValue(sign), cpuRatio(sign, srv)
		}
		fmt.Fprintf(tw, "%s\t %s\t %s\t %s\t %s\t\n", m.Title, formatValue(srv), formatValue(cli), signStr, share)
	}
	tw.Flush()
	diff := func(what string, a, b *metric, aName, bName string) {
		if a == nil || b == nil {
			return
		}
		x, y := perOp(a, func(s sample) float64 { return s.ServerCPU }), perOp(b, func(s sample) float64 { return s.ServerCPU })
		if math.IsNaN(x) || math.IsNaN(y) {
			return
		}
		fmt.Fprintf(w, "%s: %s us/op server CPU with %s, %s with %s: %+.1f us per request (%s)\n",
			what, formatValue(x), aName, formatValue(y), bName, x-y, cpuRatio(x, y))
	}
	diff("registry-password verification", byKey["ecr_token_registry_auth"], byKey["ecr_key_registry_auth"],
		"the token", "the access key (interleaved)")
	diff(fmt.Sprintf("IAM user, %d-statement identity policy, over root (same repository policy)", authzStatements),
		byKey["authz_head_policies"], byKey["authz_head_root"], "the user's key", "the root key (interleaved)")
	diff("one manifest by tag", byKey["ecr_batch_get_image"], byKey["manifest_get_tag"],
		"ECR BatchGetImage (SigV4, JSON)", "/v2 GET (Basic access key, not interleaved)")
}

// perOp is the median over Berth's samples of f per operation, in µs.
func perOp(m *metric, f func(sample) float64) float64 {
	return median(m.Samples[targetBerth], func(s sample) float64 { return f(s) * 1e6 / float64(max(s.Ops, 1)) })
}

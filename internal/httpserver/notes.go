package httpserver

import "context"

// notes is what handlers tell Middleware about a request once they know
// it: the route it took and who sent it. One request's handler writes them
// on its own goroutine before returning; Middleware reads them after.
type notes struct {
	route     string
	principal string
}

type notesKey struct{}

func withNotes(ctx context.Context) (context.Context, *notes) {
	n := &notes{}
	return context.WithValue(ctx, notesKey{}, n), n
}

// SetRoute names the route a request took: the route label of the request
// metrics and the route of the request log. Handlers call it once they have
// matched the request (a /v2 endpoint, a known ECR or IAM operation). The
// name must come from a fixed set — never unchecked request text, which
// would make a metric series per value. Outside Middleware it does nothing.
func SetRoute(ctx context.Context, name string) {
	if n, ok := ctx.Value(notesKey{}).(*notes); ok {
		n.route = name
	}
}

// SetPrincipal records who sent the request (an ARN), for the request log.
func SetPrincipal(ctx context.Context, arn string) {
	if n, ok := ctx.Value(notesKey{}).(*notes); ok {
		n.principal = arn
	}
}

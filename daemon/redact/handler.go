package redact

import (
	"context"
	"fmt"
	"log/slog"
)

// Handler redacts, with String, the message and every string and error
// attribute of the records it passes on: the last line of defence for a
// secret that reached a log call in someone else's words. It runs only
// for records that are logged (Enabled is the wrapped handler's).
type Handler struct{ h slog.Handler }

// NewHandler wraps h.
func NewHandler(h slog.Handler) *Handler { return &Handler{h: h} }

func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(attr(a))
		return true
	})
	return h.h.Handle(ctx, out)
}

func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = attr(a)
	}
	return &Handler{h: h.h.WithAttrs(red)}
}

func (h *Handler) WithGroup(name string) slog.Handler { return &Handler{h: h.h.WithGroup(name)} }

func attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, String(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]slog.Attr, len(g))
		for i, ga := range g {
			red[i] = attr(ga)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(red...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, String(safely(x.Error)))
		case fmt.Stringer: // a *url.URL with a password, say
			return slog.String(a.Key, String(safely(x.String)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// safely calls f, which may be a method of a nil pointer, as fmt does.
func safely(f func() string) (s string) {
	defer func() {
		if recover() != nil {
			s = "<nil>"
		}
	}()
	return f()
}

package source

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/token"
)

// Checked checks every token its source returns before handing it on, so a
// wrong token gives a precise local error instead of an STS round trip.
type Checked struct {
	src    Source
	checks token.Checks

	mu   sync.Mutex
	last *daemon.Claims
}

// NewChecked wraps src with checks.
func NewChecked(src Source, checks token.Checks) *Checked {
	return &Checked{src: src, checks: checks}
}

// Name is the wrapped source's name.
func (c *Checked) Name() string { return c.src.Name() }

// Token gets a token from the source and checks it. A failed check returns
// token.Check's error at daemon.StageTokenCheck, its message prefixed with
// the source's name; the source's own errors are returned as they are.
func (c *Checked) Token(ctx context.Context) (string, error) {
	tok, err := c.src.Token(ctx)
	if err != nil {
		return "", err
	}
	claims, err := token.Check(tok, c.checks)
	if err != nil {
		named := *daemon.AtStage(daemon.StageTokenCheck, err)
		named.Message = c.src.Name() + " source: " + named.Message
		return "", &named
	}
	c.mu.Lock()
	c.last = &claims
	c.mu.Unlock()
	return tok, nil
}

// LastClaims returns a copy of the claims of the last token that passed the
// checks, or nil if none has.
func (c *Checked) LastClaims() *daemon.Claims {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		return nil
	}
	cp := *c.last
	cp.Audience = slices.Clone(cp.Audience)
	cp.Extra = maps.Clone(cp.Extra)
	return &cp
}

// Changed is the wrapped source's Changed channel, or nil (which blocks
// forever in a select) if it has none.
func (c *Checked) Changed() <-chan struct{} {
	if n, ok := c.src.(Notifier); ok {
		return n.Changed()
	}
	return nil
}

var (
	_ Source   = (*Checked)(nil)
	_ Notifier = (*Checked)(nil)
	_ Notifier = (*File)(nil)
	_ Source   = (*File)(nil)
	_ Source   = (*Actions)(nil)
	_ Source   = (*Command)(nil)
)

package agent

import (
	"testing"

	"github.com/credd-dev/credd/daemon/config"
)

// A token source is registered once in config and built once here; the two
// tables must name the same sources.
func TestEveryTokenSourceHasABuilder(t *testing.T) {
	for _, s := range config.TokenSources {
		if sourceBuilders[s.Name] == nil {
			t.Errorf("config.TokenSources has %q, but agent has no builder for it", s.Name)
		}
	}
	for name := range sourceBuilders {
		if _, ok := config.LookupSource(name); !ok {
			t.Errorf("agent builds %q, which config.TokenSources does not register", name)
		}
	}
}

package watch

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/internal/awsfake"
	"github.com/shroud-dev/shroud/sources"
	awssrc "github.com/shroud-dev/shroud/sources/aws"
)

// TestFirstPollSplayed: loops started together make their first checks
// spread from half an interval to one and a half, not together one
// interval later: a fleet deployed at once would otherwise poll in a wave,
// every interval, for hours.
func TestFirstPollSplayed(t *testing.T) {
	fake := awsfake.New()
	t.Cleanup(fake.Close)
	for _, kv := range fake.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	fake.PutSecretString("us-east-1", "a", "v")
	const loops, interval = 16, 2 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var inputs []Input
	for i := range loops {
		text := fmt.Sprintf("region = \"us-east-1\"\n[rotation]\ninterval = %q\njitter = 0\n[[files]]\npath = %q\nvalue_from = \"sm:a\"\n",
			interval.String(), filepath.Join(t.TempDir(), "out"))
		cfg, err := config.ParseFile(fmt.Sprintf("loop%d.toml", i), []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		plan, r := inject.NewPlan(cfg), sources.NewResolver()
		awssrc.New(cfg.AWS).Register(r)
		vals, err := plan.Resolve(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		m, err := plan.Materialize(vals)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, Input{Plan: plan, Resolver: r, Values: vals, Current: m})
	}
	fake.Reset()
	for _, in := range inputs {
		wg.Go(func() { Watch(ctx, in) })
	}
	time.Sleep(interval * 2 / 5)
	if n := fake.Count("secretsmanager.DescribeSecret", ""); n != 0 {
		t.Errorf("%d of %d loops polled before half an interval", n, loops)
	}
	time.Sleep(interval * 3 / 5) // one interval since the start
	if n := fake.Count("secretsmanager.DescribeSecret", ""); n < 2 || n == loops {
		t.Errorf("%d of %d loops polled within one interval; want their first polls spread from half an interval to one and a half", n, loops)
	}
}

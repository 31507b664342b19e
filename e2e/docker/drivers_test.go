package docker

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Graylog2/go-gelf/gelf"
)

// parityRecords is how many records parityScript makes for the drivers
// that keep empty lines (json-file, fluentd, splunk inline and json).
const parityRecords = 18

// TestFluentdAsDocker compares shroud's fluentd events with Docker's for
// the same child: the forward protocol's entry, and the record field by
// field.
func TestFluentdAsDocker(t *testing.T) {
	requireDocker(t)
	for _, tt := range []struct {
		name   string
		opts   []opt
		script string
	}{
		{"default", nil, parityScript},
		{"sub-second", []opt{{"fluentd-sub-second-precision", "true"}}, parityScript},
		// Docker's fluent-logger (v1.6.1 in Docker 20.10) mixes up the
		// acknowledgements of its two streams' concurrent posts and sends
		// events again and again: one stream only.
		{"request-ack", []opt{{"fluentd-request-ack", "true"}}, stdoutOnly(parityScript)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := startFluentd(t)
			opts := append(append([]opt{{"fluentd-address", srv.addr}}, commonOpts...), tt.opts...)
			name := containerName(t)
			from := time.Now().Truncate(time.Second)
			id := runDocker(t, name, "fluentd", opts, parityEnv, tt.script)
			docker := srv.take(t, parityRecords-2*boolInt(tt.script != parityScript))
			runShroud(t, "fluentd", opts, parityEnv, tt.script)
			shroud := srv.take(t, len(docker))
			to := time.Now()
			hostname, _ := os.Hostname()

			tb := newTable(t, "fluentd "+tt.name)
			ds, ss := fluentByStream(docker), fluentByStream(shroud)
			for _, stream := range []string{"stdout", "stderr"} {
				ps := pairs(tb, stream, ds[stream], ss[stream])
				for _, p := range ps {
					d, s := p[0], p[1]
					tb.same("tag", d.Tag, s.Tag)
					tb.same("time type", d.TimeKind, s.TimeKind)
					tb.same("option (chunk asked for)", keys(d.Option), keys(s.Option))
					dk, sk := slices.Sorted(slices.Values(keys(d.Record))), slices.Sorted(slices.Values(keys(s.Record)))
					tb.same("record keys", dk, sk)
					for _, f := range d.Record {
						g, _ := get(s.Record, f.Key)
						switch f.Key {
						case "container_id":
							tb.intended("container_id", f.Value, id, g.Value, hostname, "shroud has no container: the hostname (a container's short id)")
						case "container_name":
							tb.intended("container_name", f.Value, "/"+name, g.Value, "busybox", "shroud has no container: the command's name")
						case "partial_id":
						default:
							tb.same(f.Key+" (value and msgpack type)", f, g)
						}
					}
					for who, ev := range map[string]fluentEvent{"Docker": d, "shroud": s} {
						if ev.Time.Before(from) || ev.Time.After(to) || ev.TimeKind == "int" && ev.Time.Nanosecond() != 0 {
							t.Errorf("%s: event time %v (%s), not within the run", who, ev.Time, ev.TimeKind)
						}
					}
				}
				ids := func(evs []fluentEvent) []string {
					var out []string
					for _, ev := range evs {
						f, _ := get(ev.Record, "partial_id")
						s, _ := f.Value.(string)
						out = append(out, s)
					}
					return out
				}
				tb.same("partial_id (64 hex digits, one per split line)", partialIDs(t, "Docker", ids(ds[stream])), partialIDs(t, "shroud", ids(ss[stream])))
			}
			tb.row("entry", "Message mode", "Message mode", "equal (the receiver takes nothing else)")
			tb.row("time", "the line's read time", "the line's read time", "equal (values are each run's)")
		})
	}
}

// stdoutOnly drops a script's lines that write to stderr.
func stdoutOnly(script string) string {
	var out []string
	for _, l := range strings.Split(script, "\n") {
		if !strings.Contains(l, ">&2") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func fluentByStream(evs []fluentEvent) map[string][]fluentEvent {
	out := map[string][]fluentEvent{}
	for _, ev := range evs {
		f, _ := get(ev.Record, "source")
		s, _ := f.Value.(string)
		out[s] = append(out[s], ev)
	}
	return out
}

// dockerOnlyGELF are the fields Docker's gelf driver takes from the
// container, which shroud does not have.
var dockerOnlyGELF = []string{"_created", "_image_id", "_image_name"}

// TestGELFAsDocker compares shroud's GELF messages with Docker's for the
// same child, over UDP with each compression (long lines chunked) and TCP.
func TestGELFAsDocker(t *testing.T) {
	requireDocker(t)
	hostname, _ := os.Hostname()
	for _, tt := range []struct {
		network, compression string
	}{
		{"udp", ""}, // gzip, Docker's default
		{"udp", "zlib"},
		{"udp", "none"},
		{"tcp", ""},
	} {
		t.Run(tt.network+"-"+tt.compression, func(t *testing.T) {
			srv := startGELF(t, tt.network)
			opts := append([]opt{{"gelf-address", srv.addr}}, commonOpts...)
			if tt.compression != "" {
				opts = append(opts, opt{"gelf-compression-type", tt.compression})
			}
			name := containerName(t)
			from := time.Now().Truncate(time.Millisecond)
			id := runDocker(t, name, "gelf", opts, parityEnv, parityScript)
			docker := srv.take(t, syslogMessages)
			runShroud(t, "gelf", opts, parityEnv, parityScript)
			shroud := srv.take(t, len(docker))
			to := time.Now()

			tb := newTable(t, "gelf "+tt.network+" "+tt.compression)
			ds, ss := gelfByStream(t, docker), gelfByStream(t, shroud)
			for _, stream := range []string{"stdout", "stderr"} {
				for _, p := range pairs(tb, stream, ds[stream], ss[stream]) {
					d, s := p[0], p[1]
					tb.same("compression", d.Compression, s.Compression)
					// Chunked when the payload exceeds go-gelf's chunk
					// size: sizes differ with the fields Docker adds.
					for who, m := range map[string]gelfMessage{"Docker": d, "shroud": s} {
						if tt.network == "udp" && (m.Chunks > 0) != (m.Size > gelf.ChunkSize) {
							t.Errorf("%s: a payload of %d bytes came in %d chunks", who, m.Size, m.Chunks)
						}
					}
					if f, _ := get(d.Fields, "short_message"); strings.HasPrefix(f.Value.(string), "1 2 3") {
						tb.same("chunked (a line of 16 KiB of digits)", d.Chunks > 0, s.Chunks > 0)
					}
					var dKeys []string
					for _, f := range d.Fields {
						if !slices.Contains(dockerOnlyGELF, f.Key) {
							dKeys = append(dKeys, f.Key)
						}
					}
					tb.same("fields, in order", dKeys, keys(s.Fields))
					for _, f := range d.Fields {
						g, _ := get(s.Fields, f.Key)
						switch f.Key {
						case "_created", "_image_id", "_image_name":
							tb.intended(f.Key, f.Value != "", true, g.Key, "", "shroud has no container or image")
						case "_container_id":
							tb.intended(f.Key, f.Value, id, g.Value, hostname, "shroud has no container: the hostname")
						case "_container_name":
							tb.intended(f.Key, f.Value, name, g.Value, "busybox", "shroud has no container: the command's name")
						case "timestamp":
							checkGELFTime(t, "Docker", f, from, to)
							checkGELFTime(t, "shroud", g, from, to)
							tb.row("timestamp", f.Raw, g.Raw, "same precision (ms); values are each run's")
						default:
							tb.same(f.Key+" (JSON text)", f.Raw, g.Raw)
						}
					}
				}
			}
		})
	}
}

func gelfByStream(t *testing.T, msgs []gelfMessage) map[string][]gelfMessage {
	out := map[string][]gelfMessage{}
	for _, m := range msgs {
		f, _ := get(m.Fields, "level")
		switch f.Raw {
		case "6":
			out["stdout"] = append(out["stdout"], m)
		case "3":
			out["stderr"] = append(out["stderr"], m)
		default:
			t.Errorf("level %s in %s", f.Raw, m.Raw)
		}
	}
	return out
}

// checkGELFTime checks a GELF timestamp: seconds with milliseconds, as
// Docker's driver and shroud send it, within the run.
func checkGELFTime(t *testing.T, who string, f field, from, to time.Time) {
	t.Helper()
	sec, err := strconv.ParseFloat(f.Raw, 64)
	ms := sec * 1000
	at := time.UnixMilli(int64(math.Round(ms)))
	if err != nil || math.Abs(ms-math.Round(ms)) > 1e-3 || at.Before(from) || at.After(to) {
		t.Errorf("%s: timestamp %s is not milliseconds within the run", who, f.Raw)
	}
}

// splunkEventTime is the time of an HEC event: seconds with microseconds.
var splunkEventTime = regexp.MustCompile(`^\d+\.\d{6}$`)

// TestSplunkAsDocker compares shroud's HTTP Event Collector requests with
// Docker's for the same child, over HTTPS, in each splunk-format.
func TestSplunkAsDocker(t *testing.T) {
	requireDocker(t)
	for _, tt := range []struct {
		format string
		gzip   bool
		events int
	}{
		{"inline", true, parityRecords},
		{"json", false, parityRecords},
		{"raw", false, parityRecords - 3}, // the collector refuses blank events: both skip them
	} {
		t.Run(tt.format, func(t *testing.T) {
			srv := startSplunk(t)
			opts := append([]opt{{"splunk-url", srv.url}, {"splunk-token", srv.token}, {"splunk-capath", srv.caFile},
				{"splunk-caname", "example.com"}, {"splunk-format", tt.format}, {"splunk-gzip", boolText(tt.gzip)},
				{"splunk-index", "main"}, {"splunk-source", "src"}, {"splunk-sourcetype", "st"}}, commonOpts...)
			runDocker(t, containerName(t), "splunk", opts, parityEnv, parityScript)
			docker := srv.take(t, tt.events)
			dreqs := srv.reqs.take(t, 1)
			runShroud(t, "splunk", opts, parityEnv, parityScript)
			shroud := srv.take(t, len(docker))
			sreqs := srv.reqs.take(t, 1)

			tb := newTable(t, "splunk "+tt.format)
			tb.same("Authorization", dreqs[0].Auth, sreqs[0].Auth)
			tb.same("Content-Encoding", dreqs[0].Encoding, sreqs[0].Encoding)
			tb.intended("Content-Type", dreqs[0].ContentType, "", sreqs[0].ContentType, "application/json", "shroud names the body's type; the collector ignores it")
			for who, reqs := range map[string][]hecRequest{"Docker": dreqs, "shroud": sreqs} {
				for _, r := range reqs {
					if bytes.Contains(r.Body, []byte("}\n{")) {
						t.Errorf("%s: the events of a request are separated by newlines", who)
					}
				}
			}
			tb.row("body", "events one after the other", "events one after the other", "equal (Docker posts every 5 s or 1000 events, shroud each batch)")
			ds, ss := splunkByStream(t, tt.format, docker), splunkByStream(t, tt.format, shroud)
			for _, stream := range []string{"stdout", "stderr", "all"} {
				for _, p := range pairs(tb, stream, ds[stream], ss[stream]) {
					d, s := p[0], p[1]
					tb.same("field order", keys(d), keys(s))
					for _, f := range d {
						g, _ := get(s, f.Key)
						if f.Key == "event" && tt.format == "raw" {
							dl, dattrs := splitRawEvent(t, "Docker", f.Value.(string))
							sl, sattrs := splitRawEvent(t, "shroud", g.Value.(string))
							tb.same("event: line", dl, sl)
							tb.same("event: attrs after the tag, as a set", dattrs, sattrs)
							tb.row("event: attrs order", f.Value, g.Value, "Docker's in map order (varies from run to run), shroud's sorted")
							continue
						}
						if f.Key == "time" {
							for who, v := range map[string]string{"Docker": f.Value.(string), "shroud": g.Value.(string)} {
								if !splunkEventTime.MatchString(v) {
									t.Errorf("%s: time %q is not seconds with 6 decimals", who, v)
								}
							}
							tb.row("time", f.Value, g.Value, "same format; values are each run's")
							continue
						}
						tb.same(f.Key+" (JSON text)", f.Raw, g.Raw)
					}
				}
			}
		})
	}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// splunkByStream groups events by their source; raw events have none, so
// they are sorted by their text instead.
func splunkByStream(t *testing.T, format string, events []json.RawMessage) map[string][][]field {
	out := map[string][][]field{}
	for _, ev := range events {
		fs, err := jsonFields(ev)
		if err != nil {
			t.Fatal(err)
		}
		stream := "all"
		if format != "raw" {
			e, _ := get(fs, "event")
			m, _ := e.Value.(map[string]any)
			stream, _ = m["source"].(string)
		}
		out[stream] = append(out[stream], fs)
	}
	slices.SortFunc(out["all"], func(a, b []field) int {
		x, _ := get(a, "event")
		y, _ := get(b, "event")
		return strings.Compare(x.Raw, y.Raw)
	})
	return out
}

// splitRawEvent takes apart a raw-format event, "parity K=V ... line":
// Docker writes the attributes in Go map order, so they come back sorted.
func splitRawEvent(t *testing.T, who, ev string) (line string, attrs []string) {
	t.Helper()
	rest, ok := strings.CutPrefix(ev, "parity ")
	if !ok {
		t.Errorf("%s: raw event %q does not start with the tag", who, ev)
	}
	for {
		i := slices.IndexFunc(rawAttrs, func(a string) bool { return strings.HasPrefix(rest, a+" ") })
		if i < 0 {
			break
		}
		attrs = append(attrs, rawAttrs[i])
		rest = rest[len(rawAttrs[i])+1:]
	}
	slices.Sort(attrs)
	return rest, attrs
}

// rawAttrs are the attributes parityEnv and commonOpts give a raw event.
var rawAttrs = []string{"FOO=foo value", "BAR_X=x", "BAR_Y=<y>"}

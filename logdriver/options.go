package logdriver

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
)

// Driver names, as Docker and ECS spell them.
const (
	None     = "none"
	JSONFile = "json-file"
	Syslog   = "syslog"
	Fluentd  = "fluentd"
	Splunk   = "splunk"
	GELF     = "gelf"
)

// Drivers lists the drivers shroud has.
var Drivers = []string{None, JSONFile, Syslog, Fluentd, Splunk, GELF}

// commonOptions are accepted by every driver but none, as in Docker.
var commonOptions = []string{"tag", "labels", "labels-regex", "env", "env-regex", "mode", "max-buffer-size"}

// driverOptions are each driver's own options: Docker's names, so an ECS
// task definition's logConfiguration works unchanged. json-file's path is
// shroud's: Docker keeps the file in the container's directory.
var driverOptions = map[string][]string{
	None:     nil,
	JSONFile: {"max-size", "max-file", "compress", "path"},
	Syslog: {"syslog-address", "syslog-facility", "syslog-format",
		"syslog-tls-ca-cert", "syslog-tls-cert", "syslog-tls-key", "syslog-tls-skip-verify"},
	Fluentd: {"fluentd-address", "fluentd-async", "fluentd-async-connect", "fluentd-buffer-limit",
		"fluentd-retry-wait", "fluentd-max-retries", "fluentd-sub-second-precision",
		"fluentd-request-ack", "fluentd-write-timeout"},
	Splunk: {"splunk-url", "splunk-token", "splunk-source", "splunk-sourcetype", "splunk-index",
		"splunk-capath", "splunk-caname", "splunk-insecureskipverify", "splunk-format",
		"splunk-verify-connection", "splunk-gzip", "splunk-gzip-level"},
	GELF: {"gelf-address", "gelf-compression-type", "gelf-compression-level",
		"gelf-tcp-max-reconnect", "gelf-tcp-reconnect-delay"},
}

// KnownOptions returns the options driver accepts, sorted; false for an
// unknown driver.
func KnownOptions(driver string) ([]string, bool) {
	own, ok := driverOptions[driver]
	if !ok {
		return nil, false
	}
	if driver == None {
		return nil, true
	}
	all := append(slices.Clone(own), commonOptions...)
	slices.Sort(all)
	return all, true
}

// DefaultTee says whether output is copied to shroud's own stdout and
// stderr when the config does not say: yes, so that kubectl logs and
// docker logs keep working, except with driver none, where the child
// writes there itself.
func DefaultTee(driver string) bool { return driver != None && driver != "" }

// Validate checks a driver's options before their secret values are known:
// the driver, every option name, and the values of plain options. secret
// names options whose values come from secrets; only their names are
// checked. Every problem is returned.
func Validate(driver string, options map[string]string, secret []string) []error {
	if driver == "" {
		driver = None
	}
	errs := checkNames(driver, sortedKeys(options), secret)
	for _, name := range secret {
		if _, dup := options[name]; dup {
			errs = append(errs, fmt.Errorf("option %q is set both in options and in secret_options; set it once", name))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	r := &optReader{driver: driver, opts: options, secret: map[string]bool{}, deferred: map[string]bool{}}
	for _, name := range secret {
		r.deferred[name] = true
	}
	parseDriver(r)
	return r.errs
}

// checkNames checks the driver and the option names.
func checkNames(driver string, names ...[]string) []error {
	known, ok := KnownOptions(driver)
	if !ok {
		return []error{fmt.Errorf("unknown log driver %q; shroud has %s", driver, strings.Join(Drivers, ", "))}
	}
	var errs []error
	for _, name := range slices.Concat(names...) {
		switch {
		case slices.Contains(known, name):
		case driver == None:
			errs = append(errs, fmt.Errorf("option %q: driver none takes no options (the child writes to shroud's stdout and stderr)", name))
		default:
			errs = append(errs, fmt.Errorf("unknown option %q for the %s driver; known options: %s", name, driver, strings.Join(known, ", ")))
		}
	}
	return errs
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// optReader reads typed options, collecting every problem. An error names
// the option and shows its value, unless the value came from a secret.
type optReader struct {
	driver string
	opts   map[string]string
	// secret options' values are never shown.
	secret map[string]bool
	// deferred options have values not known yet (Validate before secrets
	// resolve): they count as set, and read as their defaults.
	deferred map[string]bool
	errs     []error
}

func (r *optReader) has(name string) bool {
	_, ok := r.opts[name]
	return ok || r.deferred[name]
}

func (r *optReader) value(name string) (string, bool) {
	if r.deferred[name] {
		return "", false
	}
	v, ok := r.opts[name]
	return v, ok
}

// fail records a problem with option name's value. For an option from a
// secret, errors among args (a parser's message may quote the value) are
// left out.
func (r *optReader) fail(name, format string, args ...any) {
	if r.secret[name] {
		for i, a := range args {
			if _, ok := a.(error); ok {
				args[i] = "details not shown"
			}
		}
	}
	r.errs = append(r.errs, r.optError(name, fmt.Sprintf(format, args...)))
}

func (r *optReader) optError(name, problem string) error {
	if r.secret[name] {
		return fmt.Errorf("%s option %s (from a secret, value not shown): %s", r.driver, name, problem)
	}
	return fmt.Errorf("%s option %s=%q: %s", r.driver, name, r.opts[name], problem)
}

func (r *optReader) str(name, def string) string {
	if v, ok := r.value(name); ok {
		return v
	}
	return def
}

func (r *optReader) oneOf(name, def string, allowed ...string) string {
	v, ok := r.value(name)
	if !ok {
		return def
	}
	if !slices.Contains(allowed, v) {
		r.fail(name, "want one of %s", strings.Join(allowed, ", "))
		return def
	}
	return v
}

func (r *optReader) boolean(name string, def bool) bool {
	v, ok := r.value(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(name, "want true or false")
		return def
	}
	return b
}

func (r *optReader) integer(name string, def, lo, hi int) int {
	v, ok := r.value(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(name, "want a whole number from %d to %d", lo, hi)
		return def
	}
	return n
}

// size reads a size as Docker reads max-buffer-size and
// fluentd-buffer-limit ("10m", "1g", "512k": multiples of 1024).
func (r *optReader) size(name string, def int64) int64 {
	return r.sizeWith(units.RAMInBytes, name, def)
}

// decimalSize reads a size as Docker reads json-file's max-size ("10m",
// "1g", "512k": multiples of 1000).
func (r *optReader) decimalSize(name string, def int64) int64 {
	return r.sizeWith(units.FromHumanSize, name, def)
}

func (r *optReader) sizeWith(parse func(string) (int64, error), name string, def int64) int64 {
	v, ok := r.value(name)
	if !ok {
		return def
	}
	n, err := parse(v)
	if err != nil || n <= 0 {
		r.fail(name, "want a size such as 10m, 512k or 1g")
		return def
	}
	return n
}

func (r *optReader) duration(name string, def time.Duration) time.Duration {
	v, ok := r.value(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.fail(name, "want a duration such as 1s or 500ms")
		return def
	}
	return d
}

// parseDriver reads every option of r's driver into its settings.
func parseDriver(r *optReader) (common commonSettings, settings any) {
	common = parseCommon(r)
	switch r.driver {
	case JSONFile:
		settings = parseJSONFile(r)
	case Syslog:
		settings = parseSyslog(r)
	case Fluentd:
		settings = parseFluentd(r)
	case Splunk:
		settings = parseSplunk(r)
	case GELF:
		settings = parseGELF(r)
	}
	return common, settings
}

// Modes: blocking makes the child's writes wait while the driver has 1 MB
// (DefaultMaxBufferSize) queued and not taken; non-blocking never makes the
// child wait, dropping what does not fit in max-buffer-size.
const (
	Blocking    = "blocking"
	NonBlocking = "non-blocking"
)

// DefaultMaxBufferSize is Docker's ring buffer size for non-blocking mode:
// 10^6 bytes (the option itself reads "1m" as 2^20).
const DefaultMaxBufferSize = 1_000_000

// commonSettings are the options every driver has.
type commonSettings struct {
	mode          string
	maxBufferSize int64
	tag           tagTemplate
	tagGiven      bool // the tag option was set: json-file writes it only then, as Docker does
	attrs         attrSelector
}

func parseCommon(r *optReader) commonSettings {
	c := commonSettings{mode: r.oneOf("mode", Blocking, Blocking, NonBlocking)}
	if r.has("max-buffer-size") && c.mode != NonBlocking {
		r.errs = append(r.errs, errors.New("option max-buffer-size needs mode=non-blocking"))
	}
	c.maxBufferSize = r.size("max-buffer-size", DefaultMaxBufferSize)
	var err error
	c.tagGiven = r.has("tag")
	if c.tag, err = parseTag(r.str("tag", DefaultTag)); err != nil {
		r.fail("tag", "%v", err)
	}
	c.attrs = parseAttrs(r)
	return c
}

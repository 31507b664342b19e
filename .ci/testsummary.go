//go:build ignore

// Testsummary reads `go test -json` on stdin and prints what a person
// needs from it: a line per package (as go test prints it), the whole
// output of every test that failed, then every skipped test with the
// reason it gave, so that no skip passes unseen. It exits 1 if anything
// failed.
//
//	go test -race -json ./... | go run .ci/testsummary.go
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// event is one line of go test -json (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

// fileLine is the place t.Log and t.Skip put before their message.
var fileLine = regexp.MustCompile(`^\s+\w[\w.-]*\.go:\d+: `)

func main() {
	var (
		output  = map[string][]string{} // package + " " + test -> its output lines
		skipped []string
		failed  bool
		tests   int
	)
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<26)
	for in.Scan() {
		var e event
		if err := json.Unmarshal(in.Bytes(), &e); err != nil {
			fmt.Println(in.Text()) // not an event: go test's own message
			continue
		}
		key := e.Package + " " + e.Test
		switch {
		case e.Action == "output" || e.Action == "build-output":
			output[key] = append(output[key], e.Output)
		case e.Action == "build-fail":
			failed = true
			fmt.Print(strings.Join(output[key], ""))
		case e.Test == "" && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
			// The package's own result: go test's ok / FAIL / no test files line.
			for _, line := range output[key] {
				if strings.HasPrefix(line, "ok ") || strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "?") {
					fmt.Print(line)
				} else if e.Action == "fail" {
					fmt.Print(line) // a panic or a TestMain failure outside any test
				}
			}
			failed = failed || e.Action == "fail"
		case e.Action == "fail":
			tests++
			failed = true
			fmt.Printf("FAIL %s %s:\n%s", e.Package, e.Test, strings.Join(output[key], ""))
		case e.Action == "skip":
			tests++
			skipped = append(skipped, fmt.Sprintf("  %s %s: %s", e.Package, e.Test, reason(output[key])))
		case e.Action == "pass":
			tests++
		}
		if e.Action == "pass" || e.Action == "skip" {
			delete(output, key)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "reading go test -json:", err)
		os.Exit(1)
	}
	fmt.Printf("skipped %d of %d tests\n", len(skipped), tests)
	for _, s := range skipped {
		fmt.Println(s)
	}
	if failed {
		os.Exit(1)
	}
}

// reason is what a skipped test said, without the === and --- lines and
// without the file:line prefix.
func reason(lines []string) string {
	var said []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		if msg := strings.TrimSpace(fileLine.ReplaceAllString(l, "")); msg != "" {
			said = append(said, msg)
		}
	}
	if len(said) == 0 {
		return "(no reason given)"
	}
	return strings.Join(said, " / ")
}

package deploycheck

// CI hygiene: the GitHub workflows run third-party code (actions) with the repository's
// token and, in the deploy job, an Azure OIDC token. A tag such as @v4 can be moved by
// whoever controls the action's repository; a full commit SHA cannot. These tests fail
// on a `uses:` that is not pinned, and on CI steps that quietly disappear.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	usesLine = regexp.MustCompile(`(?m)^\s*(?:-\s+)?uses:\s*(.*)$`)
	// owner/repo[/path]@<40 hex> # <tag>
	pinnedUses = regexp.MustCompile(`^([A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+)@([0-9a-f]{40})\s+#\s*(v\d+(?:\.\d+)*)\s*$`)
	// docker://image@sha256:<64 hex>
	pinnedImage = regexp.MustCompile(`^docker://[^\s@]+@sha256:[0-9a-f]{64}\s*$`)
)

// unpinnedActions returns a problem for each `uses:` of a workflow that is not a local
// action (./...), a full-SHA pin with its tag in a comment, or an image pinned by digest.
func unpinnedActions(workflow string) []string {
	var problems []string
	for _, m := range usesLine.FindAllStringSubmatch(workflow, -1) {
		ref := strings.Trim(strings.TrimSpace(m[1]), `"'`)
		switch {
		case strings.HasPrefix(ref, "./"):
		case pinnedUses.MatchString(ref), pinnedImage.MatchString(ref):
		default:
			problems = append(problems, fmt.Sprintf("uses: %s is not pinned to a full commit SHA with its tag in a comment (owner/repo@<40 hex> # vX.Y.Z)", ref))
		}
	}
	return problems
}

func TestUnpinnedActions(t *testing.T) {
	t.Parallel()
	const sha = "11bd71901bbe5b1630ceea73d27597364c9af683"
	for _, tc := range []struct {
		name, workflow string
		bad            int
	}{
		{"sha with tag", "      - uses: actions/checkout@" + sha + " # v4.2.2\n", 0},
		{"sha in a sub-path action", "      - uses: github/codeql-action/init@" + sha + " # v3.28.0\n", 0},
		{"local action", "      - uses: ./.github/actions/setup\n", 0},
		{"image by digest", "      - uses: docker://alpine@sha256:" + strings.Repeat("ab", 32) + "\n", 0},
		{"major tag", "      - uses: actions/checkout@v4\n", 1},
		{"branch", "    uses: azure/login@main\n", 1},
		{"short sha", "      - uses: actions/checkout@11bd719 # v4.2.2\n", 1},
		{"sha without tag comment", "      - uses: actions/checkout@" + sha + "\n", 1},
		{"upper-case hex", "      - uses: actions/checkout@" + strings.ToUpper(sha) + " # v4.2.2\n", 1},
		{"image by tag", "      - uses: docker://alpine:3.20\n", 1},
		{"quoted tag", "      - uses: 'actions/setup-go@v5'\n", 1},
		{"reusable workflow by tag", "    uses: octo/wf/.github/workflows/build.yml@v1\n", 1},
	} {
		if got := unpinnedActions(tc.workflow); len(got) != tc.bad {
			t.Errorf("%s: %d problems %v, want %d", tc.name, len(got), got, tc.bad)
		}
	}
}

// TestWorkflowActionsPinned: every action every workflow uses is pinned by SHA.
func TestWorkflowActionsPinned(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(repoRoot, ".github", "workflows", "*.y*ml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflows under .github/workflows: %v", err)
	}
	uses := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		uses += len(usesLine.FindAllString(string(data), -1))
		for _, p := range unpinnedActions(string(data)) {
			t.Errorf("%s: %s", filepath.Base(f), p)
		}
	}
	if uses == 0 {
		t.Error("the workflows use no actions; the check would pass vacuously")
	}
}

// TestCIChecks: CI runs the linters and govulncheck at an exact version, in both the
// GitHub workflow and the repository's own CI entry point.
func TestCIChecks(t *testing.T) {
	t.Parallel()
	workflow := readRepoFile(t, ".github/workflows/ci.yml")
	if !regexp.MustCompile(`(?m)^\s+run: make lint\s*$`).MatchString(workflow) {
		t.Error(".github/workflows/ci.yml does not run `make lint`")
	}
	if !regexp.MustCompile(`go run golang\.org/x/vuln/cmd/govulncheck@v\d+\.\d+\.\d+ \./\.\.\.`).MatchString(workflow) {
		t.Error(".github/workflows/ci.yml does not run govulncheck at an exact version over ./...")
	}
	ci := readRepoFile(t, ".ci/run")
	if !regexp.MustCompile(`(?m)^make lint\s*$`).MatchString(ci) {
		t.Error(".ci/run does not run `make lint`")
	}
	makefile := readRepoFile(t, "Makefile")
	if !regexp.MustCompile(`(?m)^STATICCHECK\s*:= honnef\.co/go/tools/cmd/staticcheck@v\d+\.\d+\.\d+\s*$`).MatchString(makefile) {
		t.Error("Makefile does not pin staticcheck to an exact version")
	}
}

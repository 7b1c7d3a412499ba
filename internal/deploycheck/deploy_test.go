package deploycheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakeAz writes an `az` that refuses config-zip with refusal for its first fails
// calls, then accepts, and lists main_orchestrator; it returns the bin folder and the
// file counting the uploads.
func fakeAz(t *testing.T, fails int, refusal string) (bin, count string) {
	t.Helper()
	bin = t.TempDir()
	count = filepath.Join(bin, "uploads")
	script := `#!/usr/bin/env bash
case "$*" in
  *"deployment source config-zip"*)
    n=$(( $(cat "` + count + `" 2>/dev/null || echo 0) + 1 )); echo "$n" > "` + count + `"
    if (( n <= ` + itoa(fails) + ` )); then echo "ERROR: ` + refusal + `" >&2; exit 1; fi ;;
  *"function list"*) echo main_orchestrator ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "az"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, count
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestDeployScriptWaitsOutRolePropagation runs scripts/deploy.sh against a fake az:
// a 403 while the app's new storage role propagates is retried (bounded, saying why);
// any other failure is not; a 403 that outlasts the retries ends with the cause.
func TestDeployScriptWaitsOutRolePropagation(t *testing.T) {
	t.Parallel()
	zip := filepath.Join(t.TempDir(), "app.zip")
	if err := os.WriteFile(zip, runPackageScript(t), 0o644); err != nil {
		t.Fatal(err)
	}
	forbidden := "Operation returned an invalid status 'Forbidden' (403): AuthorizationPermissionMismatch"
	for _, tc := range []struct {
		name, refusal  string
		fails, uploads int
		ok             bool
		says           string
	}{
		{"propagating", forbidden, 2, 3, true, "takes a few minutes to propagate; retrying in 0s (attempt 2 of 4)"},
		{"never granted", forbidden, 9, 4, false, "still refused (403) after 4 attempts"},
		{"another error", "ResourceNotFound: the app func-mc-x does not exist", 1, 1, false, "not a permission refusal, so not retried"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin, count := fakeAz(t, tc.fails, tc.refusal)
			cmd := exec.Command("bash", filepath.Join(repoRoot, "scripts", "deploy.sh"))
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "PACKAGE_OUT="+zip,
				"AZURE_FUNCTION_APP_NAME=func-mc-test", "AZURE_RESOURCE_GROUP=rg-test", "DEPLOY_RETRIES=3", "DEPLOY_RETRY_WAIT=0")
			out, err := cmd.CombinedOutput()
			if tc.ok != (err == nil) {
				t.Fatalf("deploy.sh: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.says) {
				t.Errorf("output lacks %q:\n%s", tc.says, out)
			}
			n, _ := os.ReadFile(count)
			if strings.TrimSpace(string(n)) != itoa(tc.uploads) {
				t.Errorf("%s uploads, want %d", strings.TrimSpace(string(n)), tc.uploads)
			}
		})
	}
}

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// binDir holds earshot and the built-in plugins; testPluginDir holds the test-only
// plugins of this package (always built here: they are not part of bin/).
var binDir, testPluginDir string

// workDir is a temporary directory for the whole run: generated audio is cached here.
var workDir string

func TestMain(m *testing.M) {
	code := runMain(m)
	os.Exit(code)
}

func runMain(m *testing.M) int {
	var err error
	workDir, err = os.MkdirTemp("", "earshot-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(workDir)

	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binDir = os.Getenv("EARSHOT_BIN_DIR")
	if binDir == "" {
		binDir = filepath.Join(workDir, "bin")
		for _, target := range []string{"earshot", "earshot-plugin-audio", "earshot-plugin-sphinx", "earshot-plugin-coach"} {
			if err := goBuild(root, filepath.Join(binDir, target), "./cmd/"+target); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
	}
	testPluginDir = filepath.Join(workDir, "testplugins")
	if err := goBuild(root, filepath.Join(testPluginDir, "earshot-plugin-e2epass"), "./test/e2e/testplugins/e2epass"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	code := m.Run()
	if code == 0 {
		// Every daemon, client and browser a test started has been waited for.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}

func goBuild(root, out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

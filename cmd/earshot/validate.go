package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/go-hclog"
)

func runValidate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validate", "validate [--offline] FILE", stderr)
	offline := fs.Bool("offline", false, "check the file only; do not start the plugins to check each stage block against its plugin's schema")
	timeout := fs.Duration("timeout", 60*time.Second, "how long starting the plugins may take")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{code: 2, err: errors.New("give exactly one configuration file")}
	}
	path := fs.Arg(0)
	cfg, diags := loadConfig(path)
	if !diags.HasErrors() && !*offline {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		log := hclog.New(&hclog.LoggerOptions{Name: "earshot", Level: hclog.Warn, Output: stderr})
		h, err := newHost(cfg, log)
		if err != nil {
			return &exitError{code: 1, err: err}
		}
		_, stageDiags := buildDefinitions(ctx, cfg, h)
		_ = h.Close()
		diags = append(diags, stageDiags...)
	}
	if len(diags) > 0 {
		_ = writeDiags(stderr, cfg, diags)
	}
	if diags.HasErrors() {
		return &exitError{code: 1}
	}
	fmt.Fprintf(stdout, "%s: valid (%d pipeline(s), default %q)\n", path, len(cfg.Pipelines), cfg.DefaultPipeline)
	return nil
}

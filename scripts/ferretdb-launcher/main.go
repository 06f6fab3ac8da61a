// Command ferretdb-launcher runs an embedded FerretDB (MongoDB wire protocol)
// with the SQLite or the PostgreSQL backend, for Runnel's local test stack
// (scripts/stack).
//
// We embed github.com/FerretDB/FerretDB/ferretdb instead of `go install`ing
// cmd/ferretdb, because the latter panics without generated build/version files.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	handler := flag.String("handler", "sqlite", "backend: sqlite or postgresql")
	dataDir := flag.String("data", "", "sqlite: directory for SQLite database files (created if missing)")
	pgURL := flag.String("postgresql-url", "", "postgresql: connection string, e.g. postgres://127.0.0.1:5432/ferretdb")
	logFile := flag.String("log", "", "log file (appended); stderr if empty")
	logLevel := flag.String("log-level", "info", "log level: debug, info, warn, error")
	flag.Parse()

	if err := run(*listen, *handler, *dataDir, *pgURL, *logFile, *logLevel); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb-launcher:", err)
		os.Exit(1)
	}
}

func run(listen, handler, dataDir, pgURL, logFile, logLevel string) error {
	cfg := ferretdb.Config{Listener: ferretdb.ListenerConfig{TCP: listen}, Handler: handler}
	switch handler {
	case "sqlite":
		if dataDir == "" {
			return fmt.Errorf("-data is required with -handler sqlite")
		}
		dir, err := filepath.Abs(dataDir)
		if err != nil {
			return err
		}
		if err = os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		// The SQLite handler wants a "file:" URI of an existing directory ending with "/".
		cfg.SQLiteURL = "file:" + dir + "/"
	case "postgresql":
		if pgURL == "" {
			return fmt.Errorf("-postgresql-url is required with -handler postgresql")
		}
		cfg.PostgreSQLURL = pgURL
	default:
		return fmt.Errorf("bad -handler %q: sqlite or postgresql", handler)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("bad -log-level: %w", err)
	}

	out := os.Stderr
	if logFile != "" {
		var err error
		if out, err = os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return err
		}
		defer out.Close()
	}
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))

	cfg.Logger = logger
	f, err := ferretdb.New(&cfg)
	if err != nil {
		return err
	}

	// Stop cleanly on SIGTERM/SIGINT so SQLite files (or PostgreSQL connections) are closed properly.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	logger.Info("ferretdb-launcher starting", "listen", listen, "handler", handler, "data", dataDir)
	err = f.Run(ctx)
	logger.Info("ferretdb-launcher stopped")
	return err
}

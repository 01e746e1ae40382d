package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/proliferate/proliferate-linear/config"
	"github.com/proliferate/proliferate-linear/store"
)

func serve(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if err := cfg.ValidateServe(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	m := NewMain(cfg, cfg.NewLogger(stderr))
	defer m.Close()
	if err := m.Open(ctx); err != nil {
		if ctx.Err() != nil {
			// A signal while Slack was still being reached: a clean stop.
			m.Log.Info("proliferate-linear stopped before start-up finished", "reason", err)
			return nil
		}
		return err
	}
	return m.Run(ctx)
}

func migrate(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, cfg.Database.DSN(), cfg.NewLogger(stderr))
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintf(stdout, "database migrated (%s)\n", db.Dialect())
	return nil
}

// reseal re-encrypts every sealed value under the current ENCRYPTION_KEY,
// the last step of a key rotation: set the new key as ENCRYPTION_KEY and
// the old one in ENCRYPTION_KEY_PREVIOUS, run reseal, then drop the old key.
func reseal(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	keyring, err := cfg.Keyring()
	if err != nil {
		return fmt.Errorf("encryption key: %w", err)
	}
	db, err := store.Open(ctx, cfg.Database.DSN(), cfg.NewLogger(stderr))
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	db.SetKeyring(keyring)
	n, err := db.ResealAll(ctx)
	fmt.Fprintf(stdout, "re-encrypted %d value(s) under key version %d\n", n, keyring.CurrentVersion())
	if err != nil {
		return fmt.Errorf("reseal: %w", err)
	}
	return nil
}

func loadConfig(getenv func(string) string) (config.Config, error) {
	cfg, err := config.Load(getenv, os.ReadFile)
	if err != nil {
		return config.Config{}, fmt.Errorf("configuration: %w", err)
	}
	return cfg, nil
}

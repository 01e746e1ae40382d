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

func loadConfig(getenv func(string) string) (config.Config, error) {
	cfg, err := config.Load(getenv, os.ReadFile)
	if err != nil {
		return config.Config{}, fmt.Errorf("configuration: %w", err)
	}
	return cfg, nil
}

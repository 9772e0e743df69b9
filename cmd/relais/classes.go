package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/tokens"
)

const classesUsage = `Usage: relais classes set --user ID --classes CODE,CODE...
       relais classes list --user ID

Links a teacher to the classes they teach (codes as in the pupils column of the household CSV): a
lesson the teacher uploads without naming regions, schools or classes goes to these classes.
`

func cmdClassesSet(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "classes set", "classes set --user ID --classes CODE,CODE...",
		"Replaces the classes a teacher teaches (an empty --classes unlinks them all).")
	user := fs.String("user", "", "the teacher's user id (as in relais token create)")
	list := fs.String("classes", "", "class codes, separated by commas")
	cfg, err := loadSettings(fs, args, io, dbSettings...)
	if err != nil {
		return err
	}
	if !tokens.ValidUserID(*user) {
		return errors.New("--user must be 1-64 letters, digits or . _ @ -")
	}
	var classes []string
	for _, c := range strings.Split(*list, ",") {
		if c = strings.TrimSpace(c); c != "" {
			classes = append(classes, c)
		}
	}
	if err := (relais.Audience{Classes: classes}).Check(); err != nil {
		return err
	}
	return withStore(ctx, cfg, func(db relais.Store) error {
		if err := db.SetUserClasses(ctx, *user, classes); err != nil {
			return err
		}
		recordShell(ctx, io, db, relais.AuditEdit, "user classes "+*user)
		return printClasses(ctx, io, db, *user)
	})
}

func cmdClassesList(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "classes list", "classes list --user ID", "Prints the classes a teacher teaches, one a line.")
	user := fs.String("user", "", "the teacher's user id")
	cfg, err := loadSettings(fs, args, io, dbSettings...)
	if err != nil {
		return err
	}
	return withStore(ctx, cfg, func(db relais.Store) error { return printClasses(ctx, io, db, *user) })
}

func printClasses(ctx context.Context, io *stdio, db relais.ClassStore, user string) error {
	cs, err := db.UserClasses(ctx, user)
	if err != nil {
		return err
	}
	for _, c := range cs {
		fmt.Fprintln(io.out, c)
	}
	return nil
}

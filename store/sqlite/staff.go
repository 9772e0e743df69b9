package sqlite

import (
	"context"
	"fmt"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

// SignInStaff creates the user of an OpenID identity on first sign-in, or updates their name and role.
func (db *DB) SignInStaff(ctx context.Context, id relais.StaffIdentity) (relais.User, error) {
	u := relais.User{ID: relais.StaffUserID(id.Issuer, id.Subject), Name: id.Name, Role: id.Role}
	now := ms(db.now())
	_, err := db.write.ExecContext(ctx, `INSERT INTO staff_users (id, issuer, subject, name, role, created_at, last_sign_in_at)
		VALUES (?,?,?,?,?,?,?)
		ON CONFLICT (issuer, subject) DO UPDATE SET name = excluded.name, role = excluded.role,
			last_sign_in_at = excluded.last_sign_in_at`, u.ID, id.Issuer, id.Subject, u.Name, u.Role, now, now)
	if err != nil {
		return relais.User{}, fmt.Errorf("sign in staff user %s: %w", u.ID, err)
	}
	return u, nil
}

// StaffUser returns a user SignInStaff made.
func (db *DB) StaffUser(ctx context.Context, id string) (relais.User, error) {
	var u relais.User
	err := db.read.QueryRowContext(ctx, `SELECT id, name, role FROM staff_users WHERE id = ?`, id).Scan(&u.ID, &u.Name, &u.Role)
	return u, sqlstore.OrNotFound(err, func() error { return relais.Errorf(relais.EUNAUTHORIZED, "Unknown user; sign in again.") })
}

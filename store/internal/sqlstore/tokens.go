package sqlstore

import (
	"context"
	"fmt"
	"time"

	relais "github.com/relais-edu/relais"
)

const tokenColumns = `id, name, user_id, role, created_at, expires_at, last_used_at, revoked_at`

func scanToken(row Row) (relais.APIToken, error) {
	var t relais.APIToken
	err := row.Scan(&t.ID, &t.Name, &t.User.ID, &t.User.Role, Time(&t.CreatedAt), OptTime(&t.ExpiresAt),
		OptTime(&t.LastUsedAt), OptTime(&t.RevokedAt))
	t.User.Name = t.Name
	return t, err
}

func unknownToken() error { return relais.Errorf(relais.EUNAUTHORIZED, "Unknown API token.") }

func tokenNotFound(id int64) func() error {
	return func() error { return relais.Errorf(relais.ENOTFOUND, "API token %d not found.", id) }
}

// stamp is t as a store gives it back: in UTC, to the millisecond.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// CreateToken stores a token with its secret's hash.
func (st Store) CreateToken(ctx context.Context, t *relais.APIToken, tokenHash string) error {
	t.CreatedAt = stamp(st.e.Now())
	err := st.e.Write().QueryRow(ctx, `INSERT INTO api_tokens (token_hash, user_id, name, role, created_at, expires_at)
		VALUES (?,?,?,?,?,?) RETURNING id`, tokenHash, t.User.ID, t.Name, t.User.Role, st.e.Time(t.CreatedAt),
		st.e.OptTime(t.ExpiresAt)).Scan(&t.ID)
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	t.User.Name = t.Name
	return nil
}

// TokenByHash returns the token of a secret's hash.
func (st Store) TokenByHash(ctx context.Context, tokenHash string) (relais.APIToken, error) {
	t, err := scanToken(st.e.Read().QueryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE token_hash = ?`, tokenHash))
	return t, orNotFound(err, unknownToken)
}

// Token returns a token by id.
func (st Store) Token(ctx context.Context, id int64) (relais.APIToken, error) {
	t, err := scanToken(st.e.Read().QueryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE id = ?`, id))
	return t, orNotFound(err, tokenNotFound(id))
}

// Tokens lists every token in id order.
func (st Store) Tokens(ctx context.Context) ([]relais.APIToken, error) {
	return QueryAll(ctx, st.e.Read(), scanToken, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY id`)
}

// RotateToken gives a token in force a new secret and expiry.
func (st Store) RotateToken(ctx context.Context, id int64, tokenHash string, expiresAt time.Time) (relais.APIToken, error) {
	t, err := scanToken(st.e.Write().QueryRow(ctx, `UPDATE api_tokens SET token_hash = ?, expires_at = ?
		WHERE id = ? AND `+st.e.None("revoked_at")+` RETURNING `+tokenColumns, tokenHash, st.e.OptTime(expiresAt), id))
	if noRow(err) {
		if _, err := st.Token(ctx, id); err != nil {
			return t, err
		}
		return t, relais.Errorf(relais.ECONFLICT, "API token %d is revoked: create a new one.", id)
	}
	return t, err
}

// RevokeToken revokes a token; a revoked one keeps its first revocation time.
func (st Store) RevokeToken(ctx context.Context, id int64) (relais.APIToken, error) {
	t, err := scanToken(st.e.Write().QueryRow(ctx, `UPDATE api_tokens
		SET revoked_at = CASE WHEN `+st.e.None("revoked_at")+` THEN ? ELSE revoked_at END
		WHERE id = ? RETURNING `+tokenColumns, st.e.Time(st.e.Now()), id))
	return t, orNotFound(err, tokenNotFound(id))
}

// TouchToken records a token's last use.
func (st Store) TouchToken(ctx context.Context, id int64, at time.Time) error {
	_, err := st.e.Write().Exec(ctx, `UPDATE api_tokens SET last_used_at = ?
		WHERE id = ? AND (`+st.e.None("last_used_at")+` OR last_used_at < ?)`, st.e.Time(at), id, st.e.Time(at))
	return err
}

// SaveInbound keeps an SMS reply.
func (st Store) SaveInbound(ctx context.Context, m relais.InboundMessage) error {
	_, err := st.e.Write().Exec(ctx, `INSERT INTO inbound_messages (phone, body, provider_id, received_at)
		VALUES (?,?,?,?)`, m.Phone, m.Body, m.ProviderID, st.e.Time(m.ReceivedAt))
	return err
}

// InboundMessages lists replies, newest first.
func (st Store) InboundMessages(ctx context.Context, p relais.Page) ([]relais.InboundMessage, error) {
	p = p.Normalize()
	w := Where{SQL: `SELECT id, phone, body, provider_id, received_at FROM inbound_messages WHERE 1=1`}
	w.And(p.After > 0, `id < ?`, p.After)
	return QueryAll(ctx, st.e.Read(), func(row Row) (relais.InboundMessage, error) {
		var m relais.InboundMessage
		err := row.Scan(&m.ID, &m.Phone, &m.Body, &m.ProviderID, Time(&m.ReceivedAt))
		return m, err
	}, w.SQL+` ORDER BY id DESC LIMIT ?`, append(w.Args, p.Limit)...)
}

// SetUserClasses replaces the classes userID teaches.
func (st Store) SetUserClasses(ctx context.Context, userID string, classes []string) error {
	return st.e.InTx(ctx, func(tx Querier) error {
		if _, err := tx.Exec(ctx, `DELETE FROM user_classes WHERE user_id = ?`, userID); err != nil {
			return fmt.Errorf("classes of user %s: %w", userID, err)
		}
		for _, c := range classes {
			if _, err := tx.Exec(ctx, `INSERT INTO user_classes (user_id, class) VALUES (?, ?)
				ON CONFLICT DO NOTHING`, userID, c); err != nil {
				return fmt.Errorf("classes of user %s: %w", userID, err)
			}
		}
		return nil
	})
}

// UserClasses returns the classes userID teaches, sorted.
func (st Store) UserClasses(ctx context.Context, userID string) ([]string, error) {
	return QueryAll(ctx, st.e.Read(), func(row Row) (string, error) {
		var c string
		return c, row.Scan(&c)
	}, `SELECT class FROM user_classes WHERE user_id = ? ORDER BY class`, userID)
}

// SignInStaff creates the user of an OpenID identity on first sign-in, or updates their name and role.
func (st Store) SignInStaff(ctx context.Context, id relais.StaffIdentity) (relais.User, error) {
	u := relais.User{ID: relais.StaffUserID(id.Issuer, id.Subject), Name: id.Name, Role: id.Role}
	now := st.e.Time(st.e.Now())
	_, err := st.e.Write().Exec(ctx, `INSERT INTO staff_users (id, issuer, subject, name, role, created_at, last_sign_in_at)
		VALUES (?,?,?,?,?,?,?)
		ON CONFLICT (issuer, subject) DO UPDATE SET name = excluded.name, role = excluded.role,
			last_sign_in_at = excluded.last_sign_in_at`, u.ID, id.Issuer, id.Subject, u.Name, u.Role, now, now)
	if err != nil {
		return relais.User{}, fmt.Errorf("sign in staff user %s: %w", u.ID, err)
	}
	return u, nil
}

// StaffUser returns a user SignInStaff made.
func (st Store) StaffUser(ctx context.Context, id string) (relais.User, error) {
	var u relais.User
	err := st.e.Read().QueryRow(ctx, `SELECT id, name, role FROM staff_users WHERE id = ?`, id).Scan(&u.ID, &u.Name, &u.Role)
	return u, orNotFound(err, func() error { return relais.Errorf(relais.EUNAUTHORIZED, "Unknown user; sign in again.") })
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

const tokenColumns = `id, name, user_id, role, created_at, expires_at, last_used_at, revoked_at`

func scanToken(row rowScanner) (relais.APIToken, error) {
	var t relais.APIToken
	var created, expires, used, revoked int64
	if err := row.Scan(&t.ID, &t.Name, &t.User.ID, &t.User.Role, &created, &expires, &used, &revoked); err != nil {
		return t, err
	}
	t.User.Name = t.Name
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = fromMS(created), orZero(expires), orZero(used), orZero(revoked)
	return t, nil
}

// orZero reads a time column where 0 is none.
func orZero(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMS(v)
}

// msOrZero writes a time column where 0 is none.
func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ms(t)
}

func unknownToken() error { return relais.Errorf(relais.EUNAUTHORIZED, "Unknown API token.") }

// CreateToken stores a token with its secret's hash.
func (db *DB) CreateToken(ctx context.Context, t *relais.APIToken, tokenHash string) error {
	t.CreatedAt = fromMS(ms(db.now()))
	err := db.write.QueryRowContext(ctx, `INSERT INTO api_tokens (token_hash, user_id, name, role, created_at, expires_at)
		VALUES (?,?,?,?,?,?) RETURNING id`, tokenHash, t.User.ID, t.Name, t.User.Role, ms(t.CreatedAt),
		msOrZero(t.ExpiresAt)).Scan(&t.ID)
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	t.User.Name = t.Name
	return nil
}

// TokenByHash returns the token of a secret's hash.
func (db *DB) TokenByHash(ctx context.Context, tokenHash string) (relais.APIToken, error) {
	t, err := scanToken(db.read.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE token_hash = ?`, tokenHash))
	return t, sqlstore.OrNotFound(err, unknownToken)
}

// Token returns a token by id.
func (db *DB) Token(ctx context.Context, id int64) (relais.APIToken, error) {
	t, err := scanToken(db.read.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE id = ?`, id))
	return t, sqlstore.OrNotFound(err, func() error { return relais.Errorf(relais.ENOTFOUND, "API token %d not found.", id) })
}

// Tokens lists every token in id order.
func (db *DB) Tokens(ctx context.Context) ([]relais.APIToken, error) {
	return queryAll(ctx, db.read, scanToken, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY id`)
}

// RotateToken gives a token in force a new secret and expiry.
func (db *DB) RotateToken(ctx context.Context, id int64, tokenHash string, expiresAt time.Time) (relais.APIToken, error) {
	t, err := scanToken(db.write.QueryRowContext(ctx, `UPDATE api_tokens SET token_hash = ?, expires_at = ?
		WHERE id = ? AND revoked_at = 0 RETURNING `+tokenColumns, tokenHash, msOrZero(expiresAt), id))
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := db.Token(ctx, id); err != nil {
			return t, err
		}
		return t, relais.Errorf(relais.ECONFLICT, "API token %d is revoked: create a new one.", id)
	}
	return t, err
}

// RevokeToken revokes a token; a revoked one keeps its first revocation time.
func (db *DB) RevokeToken(ctx context.Context, id int64) (relais.APIToken, error) {
	t, err := scanToken(db.write.QueryRowContext(ctx, `UPDATE api_tokens SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END
		WHERE id = ? RETURNING `+tokenColumns, ms(db.now()), id))
	return t, sqlstore.OrNotFound(err, func() error { return relais.Errorf(relais.ENOTFOUND, "API token %d not found.", id) })
}

// TouchToken records a token's last use.
func (db *DB) TouchToken(ctx context.Context, id int64, at time.Time) error {
	_, err := db.write.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND last_used_at < ?`, ms(at), id, ms(at))
	return err
}

// SaveInbound keeps an SMS reply.
func (db *DB) SaveInbound(ctx context.Context, m relais.InboundMessage) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO inbound_messages (phone, body, provider_id, received_at)
		VALUES (?,?,?,?)`, m.Phone, m.Body, m.ProviderID, ms(m.ReceivedAt))
	return err
}

// InboundMessages lists replies, newest first.
func (db *DB) InboundMessages(ctx context.Context, p relais.Page) ([]relais.InboundMessage, error) {
	p = p.Normalize()
	q := `SELECT id, phone, body, provider_id, received_at FROM inbound_messages`
	args := []any{}
	if p.After > 0 {
		q += ` WHERE id < ?`
		args = append(args, p.After)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, p.Limit)
	return queryAll(ctx, db.read, func(row rowScanner) (relais.InboundMessage, error) {
		var m relais.InboundMessage
		var at int64
		if err := row.Scan(&m.ID, &m.Phone, &m.Body, &m.ProviderID, &at); err != nil {
			return m, err
		}
		m.ReceivedAt = fromMS(at)
		return m, nil
	}, q, args...)
}

// SetUserClasses replaces the classes userID teaches.
func (db *DB) SetUserClasses(ctx context.Context, userID string, classes []string) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_classes WHERE user_id = ?`, userID); err != nil {
			return fmt.Errorf("classes of user %s: %w", userID, err)
		}
		for _, c := range classes {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO user_classes (user_id, class) VALUES (?, ?)`, userID, c); err != nil {
				return fmt.Errorf("classes of user %s: %w", userID, err)
			}
		}
		return nil
	})
}

// UserClasses returns the classes userID teaches, sorted.
func (db *DB) UserClasses(ctx context.Context, userID string) ([]string, error) {
	return queryAll(ctx, db.read, func(row rowScanner) (string, error) {
		var c string
		return c, row.Scan(&c)
	}, `SELECT class FROM user_classes WHERE user_id = ? ORDER BY class`, userID)
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

const tokenColumns = `id, name, user_id, role, created_at, expires_at, last_used_at, revoked_at`

func scanToken(row rowScanner) (relais.APIToken, error) {
	var t relais.APIToken
	var expires, used, revoked *time.Time
	if err := row.Scan(&t.ID, &t.Name, &t.User.ID, &t.User.Role, &t.CreatedAt, &expires, &used, &revoked); err != nil {
		return t, err
	}
	t.User.Name = t.Name
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = t.CreatedAt.UTC(), orZero(expires), orZero(used), orZero(revoked)
	return t, nil
}

// orZero reads a nullable time column.
func orZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// orNull writes a nullable time column.
func orNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	v := ts(t)
	return &v
}

func unknownToken() error { return relais.Errorf(relais.EUNAUTHORIZED, "Unknown API token.") }

func tokenNotFound(id int64) func() error {
	return func() error { return relais.Errorf(relais.ENOTFOUND, "API token %d not found.", id) }
}

// CreateToken stores a token with its secret's hash.
func (db *DB) CreateToken(ctx context.Context, t *relais.APIToken, tokenHash string) error {
	t.CreatedAt = ts(db.now())
	err := db.pool.QueryRow(ctx, `INSERT INTO api_tokens (token_hash, user_id, name, role, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, tokenHash, t.User.ID, t.Name, t.User.Role, t.CreatedAt,
		orNull(t.ExpiresAt)).Scan(&t.ID)
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	t.User.Name = t.Name
	return nil
}

// TokenByHash returns the token of a secret's hash.
func (db *DB) TokenByHash(ctx context.Context, tokenHash string) (relais.APIToken, error) {
	t, err := scanToken(db.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE token_hash = $1`, tokenHash))
	return t, sqlstore.OrNotFound(err, unknownToken)
}

// Token returns a token by id.
func (db *DB) Token(ctx context.Context, id int64) (relais.APIToken, error) {
	t, err := scanToken(db.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE id = $1`, id))
	return t, sqlstore.OrNotFound(err, tokenNotFound(id))
}

// Tokens lists every token in id order.
func (db *DB) Tokens(ctx context.Context) ([]relais.APIToken, error) {
	return queryAll(ctx, db.pool, scanToken, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY id`)
}

// RotateToken gives a token in force a new secret and expiry.
func (db *DB) RotateToken(ctx context.Context, id int64, tokenHash string, expiresAt time.Time) (relais.APIToken, error) {
	t, err := scanToken(db.pool.QueryRow(ctx, `UPDATE api_tokens SET token_hash = $1, expires_at = $2
		WHERE id = $3 AND revoked_at IS NULL RETURNING `+tokenColumns, tokenHash, orNull(expiresAt), id))
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := db.Token(ctx, id); err != nil {
			return t, err
		}
		return t, relais.Errorf(relais.ECONFLICT, "API token %d is revoked: create a new one.", id)
	}
	return t, err
}

// RevokeToken revokes a token; a revoked one keeps its first revocation time.
func (db *DB) RevokeToken(ctx context.Context, id int64) (relais.APIToken, error) {
	t, err := scanToken(db.pool.QueryRow(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $1)
		WHERE id = $2 RETURNING `+tokenColumns, ts(db.now()), id))
	return t, sqlstore.OrNotFound(err, tokenNotFound(id))
}

// TouchToken records a token's last use.
func (db *DB) TouchToken(ctx context.Context, id int64, at time.Time) error {
	_, err := db.pool.Exec(ctx, `UPDATE api_tokens SET last_used_at = $1
		WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)`, ts(at), id)
	return err
}

// SaveInbound keeps an SMS reply.
func (db *DB) SaveInbound(ctx context.Context, m relais.InboundMessage) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO inbound_messages (phone, body, provider_id, received_at)
		VALUES ($1, $2, $3, $4)`, m.Phone, m.Body, m.ProviderID, ts(m.ReceivedAt))
	return err
}

// InboundMessages lists replies, newest first.
func (db *DB) InboundMessages(ctx context.Context, p relais.Page) ([]relais.InboundMessage, error) {
	p = p.Normalize()
	q, args := `SELECT id, phone, body, provider_id, received_at FROM inbound_messages ORDER BY id DESC LIMIT $1`, []any{p.Limit}
	if p.After > 0 {
		q, args = `SELECT id, phone, body, provider_id, received_at FROM inbound_messages WHERE id < $2
			ORDER BY id DESC LIMIT $1`, append(args, p.After)
	}
	return queryAll(ctx, db.pool, func(row rowScanner) (relais.InboundMessage, error) {
		var m relais.InboundMessage
		err := row.Scan(&m.ID, &m.Phone, &m.Body, &m.ProviderID, &m.ReceivedAt)
		m.ReceivedAt = m.ReceivedAt.UTC()
		return m, err
	}, q, args...)
}

// SetUserClasses replaces the classes userID teaches.
func (db *DB) SetUserClasses(ctx context.Context, userID string, classes []string) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM user_classes WHERE user_id = $1`, userID); err != nil {
			return fmt.Errorf("classes of user %s: %w", userID, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO user_classes (user_id, class)
			SELECT $1, c FROM unnest($2::text[]) AS c ON CONFLICT DO NOTHING`, userID, classes); err != nil {
			return fmt.Errorf("classes of user %s: %w", userID, err)
		}
		return nil
	})
}

// UserClasses returns the classes userID teaches, sorted.
func (db *DB) UserClasses(ctx context.Context, userID string) ([]string, error) {
	return queryAll(ctx, db.pool, func(row rowScanner) (string, error) {
		var c string
		return c, row.Scan(&c)
	}, `SELECT class FROM user_classes WHERE user_id = $1 ORDER BY class`, userID)
}

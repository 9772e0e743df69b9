package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	relais "github.com/relais-edu/relais"
)

// CreateToken stores a token's hash for u.
func (db *DB) CreateToken(ctx context.Context, u relais.User, name, tokenHash string) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO api_tokens (token_hash, user_id, name, role, created_at)
		VALUES ($1, $2, $3, $4, $5)`, tokenHash, u.ID, name, u.Role, ts(db.now()))
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	return nil
}

// UserByTokenHash returns the holder of a token.
func (db *DB) UserByTokenHash(ctx context.Context, tokenHash string) (relais.User, error) {
	var u relais.User
	err := db.pool.QueryRow(ctx, `SELECT user_id, name, role FROM api_tokens WHERE token_hash = $1`,
		tokenHash).Scan(&u.ID, &u.Name, &u.Role)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, relais.Errorf(relais.EUNAUTHORIZED, "Unknown API token.")
	}
	return u, err
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

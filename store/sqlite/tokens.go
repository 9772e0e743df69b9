package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	relais "github.com/relais-edu/relais"
)

// CreateToken stores a token's hash for u.
func (db *DB) CreateToken(ctx context.Context, u relais.User, name, tokenHash string) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO api_tokens (token_hash, user_id, name, role, created_at)
		VALUES (?,?,?,?,?)`, tokenHash, u.ID, name, u.Role, ms(db.now()))
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	return nil
}

// UserByTokenHash returns the holder of a token.
func (db *DB) UserByTokenHash(ctx context.Context, tokenHash string) (relais.User, error) {
	var u relais.User
	err := db.read.QueryRowContext(ctx, `SELECT user_id, name, role FROM api_tokens WHERE token_hash = ?`,
		tokenHash).Scan(&u.ID, &u.Name, &u.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return u, relais.Errorf(relais.EUNAUTHORIZED, "Unknown API token.")
	}
	return u, err
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

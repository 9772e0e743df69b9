package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"
)

// The engines keep some columns in types of their own: a time is milliseconds since 1970 in SQLite
// and a timestamptz in PostgreSQL, a boolean 0 or 1 or a boolean, a list or object JSON text or jsonb.
// The destinations below read either, so that one scan function serves both engines.

// Time is a scan destination for a time column: t is set in UTC.
func Time(t *time.Time) any { return timeDest{t, false} }

// OptTime is a scan destination for a time column where NULL, 0 or 1970 (a column whose default is
// the epoch) is none: t is then the zero time.
func OptTime(t *time.Time) any { return timeDest{t, true} }

type timeDest struct {
	t        *time.Time
	optional bool
}

func (d timeDest) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		if d.optional && v.Unix() <= 0 {
			*d.t = time.Time{}
		} else {
			*d.t = v.UTC()
		}
	case int64:
		if d.optional && v == 0 {
			*d.t = time.Time{}
		} else {
			*d.t = time.UnixMilli(v).UTC()
		}
	case nil:
		if !d.optional {
			return fmt.Errorf("time column is NULL")
		}
		*d.t = time.Time{}
	default:
		return fmt.Errorf("time column holds %T", src)
	}
	return nil
}

// Bool is a scan destination for a boolean column; NULL (a LEFT JOIN's missing row) reads as false.
func Bool(b *bool) any { return boolDest{b} }

type boolDest struct{ b *bool }

func (d boolDest) Scan(src any) error {
	switch v := src.(type) {
	case bool:
		*d.b = v
	case int64:
		*d.b = v == 1
	case nil:
		*d.b = false
	default:
		return fmt.Errorf("boolean column holds %T", src)
	}
	return nil
}

// Text is a scan destination for a text or JSON column read as text: NULL is "".
func Text(s *string) any { return textDest{s} }

type textDest struct{ s *string }

func (d textDest) Scan(src any) error {
	switch v := src.(type) {
	case string:
		*d.s = v
	case []byte:
		*d.s = string(v)
	case nil:
		*d.s = ""
	default:
		return fmt.Errorf("text column holds %T", src)
	}
	return nil
}

// unmarshal decodes a JSON column's text into v, leaving v as it is for "" (none).
func unmarshal(s string, v any) error {
	if s == "" {
		return nil
	}
	return json.Unmarshal([]byte(s), v)
}

package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"
)

// The engines keep some columns in types of their own: a time is milliseconds since 1970 in SQLite
// and a timestamptz in PostgreSQL, a boolean 0 or 1 or a boolean, a list or object JSON text or jsonb.
// The destinations below read either, so that one scan function serves both engines.

// dest is a scan destination that converts what the engine gives with read.
type dest[T any] struct {
	p    *T
	read func(src any) (T, bool)
}

func (d dest[T]) Scan(src any) error {
	v, ok := d.read(src)
	if !ok {
		return fmt.Errorf("a column of %T cannot be read from %T", v, src)
	}
	*d.p = v
	return nil
}

// Time is a scan destination for a time column: t is set in UTC.
func Time(t *time.Time) any { return dest[time.Time]{t, readTime} }

// OptTime is a scan destination for a time column where NULL, 0 or 1970 (a column whose default is
// the epoch) is none: t is then the zero time.
func OptTime(t *time.Time) any { return dest[time.Time]{t, readOptTime} }

func readTime(src any) (time.Time, bool) {
	switch v := src.(type) {
	case time.Time:
		return v.UTC(), true
	case int64:
		return time.UnixMilli(v).UTC(), true
	}
	return time.Time{}, false
}

func readOptTime(src any) (time.Time, bool) {
	switch v := src.(type) {
	case nil:
		return time.Time{}, true
	case int64:
		if v <= 0 {
			return time.Time{}, true
		}
	case time.Time:
		if v.Unix() <= 0 {
			return time.Time{}, true
		}
	}
	return readTime(src)
}

// Bool is a scan destination for a boolean column; NULL (a LEFT JOIN's missing row) reads as false.
func Bool(b *bool) any {
	return dest[bool]{b, func(src any) (bool, bool) {
		switch v := src.(type) {
		case bool:
			return v, true
		case int64:
			return v == 1, true
		}
		return false, src == nil
	}}
}

// Text is a scan destination for a text or JSON column read as text: NULL is "".
func Text(s *string) any {
	return dest[string]{s, func(src any) (string, bool) {
		switch v := src.(type) {
		case string:
			return v, true
		case []byte:
			return string(v), true
		}
		return "", src == nil
	}}
}

// unmarshal decodes a JSON column's text into v, leaving v as it is for "" (none).
func unmarshal(s string, v any) error {
	if s == "" {
		return nil
	}
	return json.Unmarshal([]byte(s), v)
}

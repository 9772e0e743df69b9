package phone

import (
	"errors"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
)

// digitDFA is a regular expression of the phone number metadata compiled into a deterministic automaton
// over the ASCII digits: it answers, for a string of digits, what Go's regexp answers for ^(?:pattern)$
// (full) or ^(?:pattern) (prefix) — whether some match exists, which does not depend on the engine's
// preference among matches — in one table look-up per digit, without the backtracking that made phone
// numbers most of an import's time.
type digitDFA struct {
	next   [][10]int32 // next[state][digit]; -1: no match can follow
	accept []bool      // the digits read so far are a match
}

// maxDFAStates bounds one pattern's automaton; a pattern beyond it is left to the regexp (slow path).
const maxDFAStates = 4096

var errNotDigitPattern = errors.New("pattern is not a plain pattern over digits")

// compileDigits builds the automaton of pattern, read as regexp.Compile reads it (Perl syntax). A
// pattern with an assertion (^, $, \b) or too many states is refused: its caller keeps the regexp.
func compileDigits(pattern string) (*digitDFA, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil, err
	}
	for _, in := range prog.Inst {
		if in.Op == syntax.InstEmptyWidth {
			return nil, errNotDigitPattern
		}
	}
	// A state is the set of instructions waiting for a rune (sorted), and whether a match is reached.
	type set struct {
		pcs    []uint32
		accept bool
	}
	closure := func(starts []uint32) set {
		var s set
		seen := make([]bool, len(prog.Inst))
		stack := slices.Clone(starts)
		for len(stack) > 0 {
			pc := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[pc] {
				continue
			}
			seen[pc] = true
			switch in := &prog.Inst[pc]; in.Op {
			case syntax.InstAlt, syntax.InstAltMatch:
				stack = append(stack, in.Out, in.Arg)
			case syntax.InstCapture, syntax.InstNop:
				stack = append(stack, in.Out)
			case syntax.InstMatch:
				s.accept = true
			case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
				s.pcs = append(s.pcs, pc)
			}
		}
		slices.Sort(s.pcs)
		return s
	}
	key := func(s set) string {
		var b strings.Builder
		for _, pc := range s.pcs {
			b.WriteString(strconv.FormatUint(uint64(pc), 10))
			b.WriteByte(',')
		}
		if s.accept {
			b.WriteByte('!')
		}
		return b.String()
	}
	d := &digitDFA{}
	ids := map[string]int32{}
	var states []set
	add := func(s set) int32 {
		k := key(s)
		if id, ok := ids[k]; ok {
			return id
		}
		id := int32(len(states))
		ids[k] = id
		states = append(states, s)
		d.next = append(d.next, [10]int32{})
		d.accept = append(d.accept, s.accept)
		return id
	}
	add(closure([]uint32{uint32(prog.Start)}))
	for i := 0; i < len(states); i++ {
		if len(states) > maxDFAStates {
			return nil, errNotDigitPattern
		}
		for c := range 10 {
			var outs []uint32
			for _, pc := range states[i].pcs {
				in := &prog.Inst[pc]
				if in.Op == syntax.InstRuneAny || in.Op == syntax.InstRuneAnyNotNL || in.MatchRune(rune('0'+c)) {
					outs = append(outs, in.Out)
				}
			}
			if len(outs) == 0 {
				d.next[i][c] = -1
				continue
			}
			s := closure(outs)
			if len(s.pcs) == 0 && !s.accept {
				d.next[i][c] = -1
				continue
			}
			d.next[i][c] = add(s)
		}
	}
	return d, nil
}

// full reports whether the pattern matches all of digits (a string of ASCII digits).
func (d *digitDFA) full(digits string) bool {
	s := int32(0)
	for i := 0; i < len(digits); i++ {
		if s = d.next[s][digits[i]-'0']; s < 0 {
			return false
		}
	}
	return d.accept[s]
}

// prefix reports whether the pattern matches a prefix of digits, the empty one included.
func (d *digitDFA) prefix(digits string) bool {
	s := int32(0)
	for i := 0; ; i++ {
		if d.accept[s] {
			return true
		}
		if i == len(digits) {
			return false
		}
		if s = d.next[s][digits[i]-'0']; s < 0 {
			return false
		}
	}
}

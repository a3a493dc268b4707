package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// shellCmd is one simple command of a README block: its words, after any
// NAME=value assignments before them, and the README lines it spans.
type shellCmd struct {
	first, last int
	words       []string
}

var shellAssignRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// shellLexer splits the plain commands a README shows as a POSIX shell
// would, expanding nothing: words, '…' and "…" quoting, backslash escapes
// and line continuations, # comments, and | & ; && || between commands.
type shellLexer struct {
	line   int // the README line being read
	cmds   []shellCmd
	cur    shellCmd
	word   strings.Builder
	inWord bool
	cont   bool // after | && ||: the command list goes on past a newline
	// starts holds the lines at whose beginning a new command may begin:
	// a line may be put before them without changing the script.
	starts map[int]bool
}

// shellCommands lexes lines, of which lines[0] is README line first.
func shellCommands(first int, lines []string) (*shellLexer, error) {
	l := &shellLexer{line: first, starts: map[int]bool{first: true}}
	text := strings.Join(lines, "\n") + "\n"
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '\n':
			l.endCmd()
			l.line++
			l.starts[l.line] = !l.cont
		case ' ', '\t':
			l.endWord()
		case '#':
			if l.inWord {
				l.add("#")
				continue
			}
			i += strings.IndexByte(text[i:], '\n') - 1
		case '\\':
			i++
			if text[i] == '\n' {
				l.line++
			} else {
				l.add(text[i : i+1])
			}
		case '\'':
			j := strings.IndexByte(text[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("README.md:%d: a ' is not closed", l.line)
			}
			l.add(text[i+1 : i+1+j])
			l.line += strings.Count(text[i+1:i+1+j], "\n")
			i += j + 1
		case '"':
			n, err := l.doubleQuoted(text[i+1:])
			if err != nil {
				return nil, err
			}
			i += n
		case '|', '&', ';':
			l.endCmd()
			if c != ';' && text[i+1] == c {
				i++
				l.cont = true
			} else {
				l.cont = c == '|'
			}
		default:
			l.add(text[i : i+1])
		}
	}
	return l, nil
}

// doubleQuoted reads the rest of a "…" word from s (after the opening
// quote) and returns how many bytes it took, the closing quote included.
func (l *shellLexer) doubleQuoted(s string) (int, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			l.add(b.String())
			return i + 1, nil
		case c == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0:
			i++
			b.WriteByte(s[i])
		default:
			if c == '\n' {
				l.line++
			}
			b.WriteByte(c)
		}
	}
	return 0, fmt.Errorf("README.md:%d: a \" is not closed", l.line)
}

// add appends s to the current word, starting a word (and a command) if
// none is open: an empty s makes an empty word, as ” does.
func (l *shellLexer) add(s string) {
	if !l.inWord && len(l.cur.words) == 0 {
		l.cur.first = l.line
	}
	l.inWord = true
	l.cont = false
	l.word.WriteString(s)
}

func (l *shellLexer) endWord() {
	if l.inWord {
		l.cur.words = append(l.cur.words, l.word.String())
		l.word.Reset()
		l.inWord = false
	}
}

func (l *shellLexer) endCmd() {
	l.endWord()
	w := l.cur.words
	for len(w) > 0 && shellAssignRE.MatchString(w[0]) {
		w = w[1:]
	}
	if len(w) > 0 {
		l.cur.words, l.cur.last = w, l.line
		l.cmds = append(l.cmds, l.cur)
	}
	l.cur = shellCmd{}
}

func TestShellCommands(t *testing.T) {
	block := []string{
		`VINDEX_X=1 go test -run '^$' -bench . ./a/ | tee new.txt   # a comment's '`,
		`vindex serve --dev &`,
		`curl -H "Authorization: Bearer $TOKEN" \`,
		`  -d '{"a":1,`,
		`       "b":"c d"}' \`,
		`  https://x/y`,
		`a && \`,
		`b ||`,
		`c; d "q\"x" ''`,
	}
	l, err := shellCommands(10, block)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`10-10 [go test -run ^$ -bench . ./a/]`,
		`10-10 [tee new.txt]`,
		`11-11 [vindex serve --dev]`,
		"12-15 [curl -H Authorization: Bearer $TOKEN -d {\"a\":1,\n       \"b\":\"c d\"} https://x/y]",
		`16-16 [a]`,
		`17-17 [b]`,
		`18-18 [c]`,
		`18-18 [d q"x ]`,
	}
	var got []string
	for _, c := range l.cmds {
		got = append(got, fmt.Sprintf("%d-%d %v", c.first, c.last, c.words))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A line may be put before 10, 11, 12 and 16 (and 17, 18 not: they
	// continue a command list), never inside the curl command.
	for line, ok := range map[int]bool{10: true, 11: true, 12: true, 13: false, 14: false, 15: false, 16: true, 17: false, 18: false} {
		if l.starts[line] != ok {
			t.Errorf("starts[%d] = %v, want %v", line, l.starts[line], ok)
		}
	}
	if _, err := shellCommands(1, []string{`echo 'a`}); err == nil {
		t.Error("an open quote is not an error")
	}
}

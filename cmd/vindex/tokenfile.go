package main

import (
	"fmt"
	"os"
)

// Token files in the clear: vindex bench's --token-file, and the
// --token-file of vindex objection and vindex subject-access. A line is an
// institution and its token ("institution token", as in dev-tokens.txt of
// serve --dev; it may start with "token", as serve --dev prints them), or,
// in a file that holds one institution's token only, the bare token (as
// vindex tokens new prints it). Empty lines and lines starting with # are
// skipped.

// scanTokens calls fn with each token line of file: inst is "" for a bare
// token. Its errors name the file and the line, never a token.
func scanTokens(file string, fn func(line int, inst, token string) error) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	return scanFields(f, func(line int, fields []string) error {
		if len(fields) == 3 && fields[0] == "token" {
			fields = fields[1:]
		}
		switch len(fields) {
		case 1:
			return fn(line, "", fields[0])
		case 2:
			return fn(line, fields[0], fields[1])
		}
		return fmt.Errorf("%s:%d: want a token, or an institution and its token", file, line)
	})
}

// readTokens reads a file of "institution token" lines, every
// institution's token by its ID.
func readTokens(file string) (map[string]string, error) {
	out := map[string]string{}
	err := scanTokens(file, func(line int, inst, token string) error {
		if inst == "" {
			return fmt.Errorf("%s:%d: want \"institution token\"", file, line)
		}
		out[inst] = token
		return nil
	})
	return out, err
}

// tokenFor finds the bearer token of the institution as in file: the
// file's bare token, or as's line of "institution token" lines (as may then
// not be "").
func tokenFor(file, as string) (string, error) {
	var bare string
	byInst := map[string]string{}
	lines := 0
	err := scanTokens(file, func(line int, inst, token string) error {
		lines++
		if inst == "" {
			bare = token
		} else {
			byInst[inst] = token
		}
		if bare != "" && lines > 1 {
			return fmt.Errorf("%s:%d: a bare token must be the only token of its file", file, line)
		}
		return nil
	})
	switch {
	case err != nil:
		return "", err
	case bare != "":
		return bare, nil
	case as == "":
		return "", fmt.Errorf("%s lists tokens by institution: give --as", file)
	case byInst[as] == "":
		return "", fmt.Errorf("%s holds no token of %s", file, as)
	}
	return byInst[as], nil
}

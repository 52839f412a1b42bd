package web_test

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"dledgerlab/web"
)

// TestI18nKeysAreUnique: a key written twice in one dictionary of i18n.js
// silently replaces the first (a JavaScript object literal keeps the last),
// so one text takes another's place: "Group {g}" on the network card once
// became the consumer-group field's "Group".
func TestI18nKeysAreUnique(t *testing.T) {
	src, err := fs.ReadFile(web.FS(), "js/i18n.js")
	if err != nil {
		t.Fatal(err)
	}
	start := regexp.MustCompile(`^const (\w+) = \{$`)
	key := regexp.MustCompile(`^( +)'?([A-Za-z0-9_.\-]+)'?:`)
	block, parent := "", ""
	seen := map[string]int{}
	for i, line := range strings.Split(string(src), "\n") {
		if m := start.FindStringSubmatch(line); m != nil {
			block, parent = m[1], ""
			continue
		}
		if block == "" {
			continue
		}
		if line == "};" {
			block = ""
			continue
		}
		if line == "  }," {
			parent = ""
			continue
		}
		m := key.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		switch len(m[1]) {
		case 2:
			if strings.HasSuffix(strings.TrimSpace(line), "{") {
				parent = m[2]
			}
			m[2] = block + "." + m[2]
		case 4:
			m[2] = block + "." + parent + "." + m[2]
		default:
			continue
		}
		if first, dup := seen[m[2]]; dup {
			t.Errorf("i18n.js:%d: %s is already set at line %d; the later one replaces it", i+1, m[2], first)
		}
		seen[m[2]] = i + 1
	}
	if len(seen) < 100 {
		t.Fatalf("found only %d keys: the test no longer reads i18n.js's layout", len(seen))
	}
}

package browsertest

import (
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/stretchr/testify/assert"
)

// recorder is a testing.TB that keeps what Errorf reports.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, a ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, a...))
}

func TestConsoleRecordsErrorsOnly(t *testing.T) {
	var c Console
	c.Listen(&runtime.EventConsoleAPICalled{Type: runtime.ConsoleAPICalledTypeLog,
		Args: []*runtime.RemoteObject{{Value: []byte(`"fine"`)}}})
	c.Listen(&runtime.EventConsoleAPICalled{Type: runtime.ConsoleAPICalledTypeError,
		Args: []*runtime.RemoteObject{{Value: []byte(`"boom"`)}, {Description: "Error: at x"}}})
	c.Listen(&runtime.EventExceptionThrown{ExceptionDetails: &runtime.ExceptionDetails{Text: "Uncaught",
		Exception: &runtime.RemoteObject{Description: "TypeError: x is undefined"}}})
	c.Listen(&log.EventEntryAdded{Entry: &log.Entry{Level: log.EntryLevelError, Text: "404", URL: "/missing.js"}})
	c.Listen(&log.EventEntryAdded{Entry: &log.Entry{Level: log.EntryLevelWarning, Text: "meh"}})
	r := &recorder{TB: t}
	c.Fail(r)
	assert.Equal(t, []string{
		`browser console: console.error: "boom" Error: at x`,
		"browser console: uncaught: Uncaught TypeError: x is undefined",
		"browser console: log: 404 /missing.js",
	}, r.errors)
}
